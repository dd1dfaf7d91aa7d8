"""Logging in through GitHub (OAuth2) or any OpenID Connect provider: authorization code
with PKCE (S256), ``state`` checked by the caller, ``nonce`` checked in the ID token.
authlib does the OAuth2 client work, joserfc the ID-token validation (issuer, audience,
expiry, nonce, signature against the provider's JWKS from discovery)."""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

import msgspec
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from wws_api.errors import LoginFailed
from wws_api.settings import ApiSettings

log = structlog.get_logger("wws.api.oauth")
DISCOVERY_TTL_S = 3600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class LoginIdentity(msgspec.Struct, frozen=True, kw_only=True):
    provider: Literal["github", "oidc"]
    subject: str
    login: str
    name: str = ""
    email: str | None = None
    email_verified: bool = False
    groups: list[str] = []


class Provider(Protocol):
    name: str
    display: str

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str: ...

    async def identity(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> LoginIdentity: ...


def _client(client_id: str, secret: str, scope: str, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=15.0,
    )


class GitHub:
    name = "github"
    display = "GitHub"

    def __init__(self, settings: ApiSettings) -> None:
        assert settings.github_client_secret is not None
        self.client_id = settings.github_client_id
        self.secret = settings.github_client_secret.reveal()
        web = settings.github_url.rstrip("/")
        self.authorize_endpoint = f"{web}/login/oauth/authorize"
        self.token_endpoint = f"{web}/login/oauth/access_token"
        self.api = settings.github_api_url.rstrip("/")

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        async with _client(self.client_id, self.secret, "read:user user:email", redirect_uri) as client:
            url, _ = client.create_authorization_url(self.authorize_endpoint, state=state, code_verifier=code_verifier)
        return str(url)

    async def identity(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> LoginIdentity:
        async with _client(self.client_id, self.secret, "read:user user:email", redirect_uri) as client:
            try:
                await client.fetch_token(
                    self.token_endpoint,
                    code=code,
                    code_verifier=code_verifier,
                    headers={"Accept": "application/json"},
                )
            except (OAuth2Error, OAuthError) as exc:  # the httpx client raises OAuthError
                raise LoginFailed(f"GitHub refused the code: {exc.error}") from exc
            user = await client.get(f"{self.api}/user")
            if user.status_code != 200:
                raise LoginFailed(f"GitHub answered {user.status_code} for the user")
            me = user.json()
            emails = await client.get(f"{self.api}/user/emails")
            primary = None
            if emails.status_code == 200:
                primary = next((e for e in emails.json() if e.get("primary") and e.get("verified")), None)
        return LoginIdentity(
            provider="github",
            subject=str(me["id"]),
            login=str(me["login"]),
            name=str(me.get("name") or ""),
            email=str(primary["email"]) if primary else None,
            email_verified=primary is not None,
        )


class Oidc:
    name = "oidc"
    display = "Single sign-on"

    def __init__(self, settings: ApiSettings) -> None:
        assert settings.oidc_client_secret is not None
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.secret = settings.oidc_client_secret.reveal()
        self.scope = settings.oidc_scopes
        self.groups_claim = settings.oidc_groups_claim
        self._meta: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._fetched = 0.0

    async def _discover(self, client: AsyncOAuth2Client, *, refresh: bool = False) -> dict[str, Any]:
        if self._meta is None or refresh or time.monotonic() - self._fetched > DISCOVERY_TTL_S:
            # public documents: no access token yet (authlib's client refuses a tokenless request otherwise)
            r = await client.request("GET", f"{self.issuer}/.well-known/openid-configuration", withhold_token=True)
            if r.status_code != 200:
                raise LoginFailed(f"the identity provider's discovery answered {r.status_code}")
            meta = r.json()
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise LoginFailed("the identity provider's discovery names another issuer")
            keys = await client.request("GET", meta["jwks_uri"], withhold_token=True)
            self._meta, self._jwks, self._fetched = meta, KeySet.import_key_set(keys.json()), time.monotonic()
        assert self._meta is not None
        return self._meta

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        async with _client(self.client_id, self.secret, self.scope, redirect_uri) as client:
            meta = await self._discover(client)
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
            )
        return str(url)

    async def identity(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> LoginIdentity:
        async with _client(self.client_id, self.secret, self.scope, redirect_uri) as client:
            meta = await self._discover(client)
            try:
                token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=code_verifier)
            except (OAuth2Error, OAuthError) as exc:  # the httpx client raises OAuthError
                raise LoginFailed(f"the identity provider refused the code: {exc.error}") from exc
            raw = token.get("id_token")
            if not raw:
                raise LoginFailed("the identity provider sent no ID token")
            claims = await self._validate(client, str(raw), nonce)
            groups = claims.get(self.groups_claim)
            if groups is None and meta.get("userinfo_endpoint"):
                info = await client.get(meta["userinfo_endpoint"])
                groups = info.json().get(self.groups_claim) if info.status_code == 200 else None
        email = claims.get("email")
        return LoginIdentity(
            provider="oidc",
            subject=str(claims["sub"]),
            login=str(claims.get("preferred_username") or (email or "").split("@")[0] or claims["sub"]),
            name=str(claims.get("name") or ""),
            email=str(email) if email else None,
            email_verified=bool(claims.get("email_verified", False)),
            groups=[str(g) for g in groups] if isinstance(groups, list) else [],
        )

    async def _validate(self, client: AsyncOAuth2Client, raw: str, nonce: str) -> dict[str, Any]:
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for attempt in (1, 2):
            assert self._jwks is not None
            try:
                token = jwt.decode(raw, self._jwks, algorithms=ALGORITHMS)
                registry.validate(token.claims)
                return dict(token.claims)
            except JoseError as exc:
                if attempt == 1 and "key" in type(exc).__name__.lower():
                    await self._discover(client, refresh=True)  # the provider may have rotated its keys
                    continue
                raise LoginFailed(f"the ID token does not check out: {exc.error}") from exc
        raise AssertionError("unreachable")


def providers(settings: ApiSettings) -> dict[str, Provider]:
    found: dict[str, Provider] = {}
    if settings.github_client_id and settings.github_client_secret is not None:
        found["github"] = GitHub(settings)
    if settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret is not None:
        found["oidc"] = Oidc(settings)
    return found
