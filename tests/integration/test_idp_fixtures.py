"""The local identity providers themselves, driven the way a relying party drives them: authlib's
OAuth 2 client for the authorization and token requests (redirects are followed by hand, as the
browser would), and joserfc to validate ID tokens against the keys the provider publishes."""

from __future__ import annotations

import secrets
import socket
import threading
import urllib.parse
import warnings
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet

# the two fixtures are imported until tests/conftest.py lists tests.fixtures.idp in pytest_plugins
from tests.fixtures.idp import (
    GitHubOAuthStub,
    OidcProvider,
    TamperKind,
    github_oauth,  # noqa: F401
    oidc_provider,  # noqa: F401
    s256,
)

with warnings.catch_warnings():
    # authlib 1.9 deprecates its client on plain httpx in favour of httpx2, which WWS does not use
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.integration

CLIENT_ID = "wws-api"
CLIENT_SECRET = "test-client-secret"
# never contacted: the tests stop at the redirect and read the parameters off its Location
REDIRECT = "http://127.0.0.1:9/auth/callback"
SCOPE = "openid profile email groups"
ALICE = {"email": "alice@example.com", "name": "Alice", "preferred_username": "alice", "groups": ["platform", "admins"]}


def verifier() -> str:
    return secrets.token_urlsafe(48)


def follow_to_client(url: str, **params: str) -> dict[str, str]:
    """What the browser brings back to the redirect URI after visiting ``url``."""
    resp = httpx.get(url, params=params or None, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(f"{REDIRECT}?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


# --------------------------------------------------------------------------------------------
# OpenID Connect provider


@pytest.fixture
def bare_idp(oidc_provider: OidcProvider) -> OidcProvider:  # noqa: F811 - the fixture imported above
    """The provider with the client registered but nobody logged in."""
    oidc_provider.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    return oidc_provider


@pytest.fixture
def idp(bare_idp: OidcProvider) -> OidcProvider:
    bare_idp.login_as("u-123", **ALICE)
    return bare_idp


def discover(provider: OidcProvider) -> dict[str, Any]:
    resp = httpx.get(provider.discovery_url)
    resp.raise_for_status()
    doc: dict[str, Any] = resp.json()
    return doc


def oidc_client(auth_method: str = "client_secret_basic", secret: str = CLIENT_SECRET) -> OAuth2Client:
    return OAuth2Client(
        CLIENT_ID,
        secret,
        scope=SCOPE,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )


def validate_id_token(id_token: str, discovery: dict[str, Any], nonce: str) -> dict[str, Any]:
    """What a relying party checks: signature against the published JWKS, iss, aud, nonce, exp."""
    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return token.claims


def sign_in(provider: OidcProvider, client: OAuth2Client) -> tuple[dict[str, Any], str, str]:
    """Authorization and token exchange; the token response, the nonce sent and the state sent."""
    discovery = discover(provider)
    code_verifier, nonce = verifier(), secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    back = follow_to_client(url)
    assert back["state"] == state
    token: dict[str, Any] = client.fetch_token(
        discovery["token_endpoint"], code=back["code"], code_verifier=code_verifier
    )
    return token, nonce, state


def test_discovery_and_jwks(idp: OidcProvider) -> None:
    doc = discover(idp)
    assert doc["issuer"] == idp.issuer
    assert idp.issuer.startswith("http://127.0.0.1:")
    assert doc["authorization_endpoint"] == f"{idp.issuer}/authorize"
    assert doc["token_endpoint"] == f"{idp.issuer}/token"
    assert doc["userinfo_endpoint"] == f"{idp.issuer}/userinfo"
    assert doc["response_types_supported"] == ["code"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "profile", "email", "groups"} <= set(doc["scopes_supported"])
    assert doc["subject_types_supported"]
    keys = httpx.get(doc["jwks_uri"]).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"] and "d" not in keys[0]
    assert ("GET", "/.well-known/openid-configuration") in idp.requests


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_sign_in_happy_path(idp: OidcProvider, auth_method: str) -> None:
    with oidc_client(auth_method) as client:
        token, nonce, _ = sign_in(idp, client)
        assert token["token_type"].lower() == "bearer"
        assert token["expires_in"] > 0
        claims = validate_id_token(token["id_token"], discover(idp), nonce)
        assert claims["sub"] == "u-123"
        assert claims["aud"] == CLIENT_ID
        assert claims["email"] == "alice@example.com"
        assert claims["preferred_username"] == "alice"
        assert claims["groups"] == ["platform", "admins"]
        assert claims["iat"] >= claims["auth_time"] > 0
        header = jwt.decode(token["id_token"], KeySet.import_key_set(httpx.get(f"{idp.issuer}/jwks").json())).header
        assert header["alg"] == "RS256" and header["kid"]

        info = client.get(f"{idp.issuer}/userinfo")
        assert info.status_code == 200
        assert info.json() == {"sub": "u-123", **ALICE}
    assert [r for r in idp.requests if r[1] in ("/authorize", "/token", "/userinfo")] == [
        ("GET", "/authorize"),
        ("POST", "/token"),
        ("GET", "/userinfo"),
    ]


def test_claims_follow_the_granted_scopes(idp: OidcProvider) -> None:
    with OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope="openid email", redirect_uri=REDIRECT, code_challenge_method="S256"
    ) as client:
        token, nonce, _ = sign_in(idp, client)
    claims = validate_id_token(token["id_token"], discover(idp), nonce)
    assert claims["email"] == "alice@example.com"
    assert "groups" not in claims and "name" not in claims


def test_wrong_pkce_verifier_is_refused(idp: OidcProvider) -> None:
    discovery = discover(idp)
    with oidc_client() as client:
        url, _ = client.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier())
        code = follow_to_client(url)["code"]
        with pytest.raises(OAuthError) as caught:
            client.fetch_token(discovery["token_endpoint"], code=code, code_verifier=verifier())
    assert caught.value.error == "invalid_grant"


def test_wrong_client_secret_is_refused(idp: OidcProvider) -> None:
    with oidc_client(secret="not-the-secret") as client, pytest.raises(OAuthError) as caught:
        sign_in(idp, client)
    assert caught.value.error == "invalid_client"


@pytest.mark.parametrize(
    "pkce",
    [
        pytest.param({}, id="missing"),
        pytest.param({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge": s256(verifier())}, id="no-method"),
    ],
)
def test_authorize_requires_s256_pkce(idp: OidcProvider, pkce: dict[str, str]) -> None:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "st-1",
    }
    back = follow_to_client(f"{idp.issuer}/authorize", **params, **pkce)
    assert back["error"] == "invalid_request" and back["state"] == "st-1"
    assert "code" not in back


def test_authorize_without_openid_scope_is_refused(idp: OidcProvider) -> None:
    with OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope="profile", redirect_uri=REDIRECT, code_challenge_method="S256"
    ) as client:
        url, state = client.create_authorization_url(f"{idp.issuer}/authorize", code_verifier=verifier())
    back = follow_to_client(url)
    assert back["error"] == "invalid_scope" and back["state"] == state


def test_unregistered_redirect_uri_is_not_followed(idp: OidcProvider) -> None:
    with OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri="http://127.0.0.1:9/evil", code_challenge_method="S256"
    ) as client:
        url, _ = client.create_authorization_url(f"{idp.issuer}/authorize", code_verifier=verifier())
    resp = httpx.get(url, follow_redirects=False)
    assert resp.status_code == 400 and "location" not in resp.headers
    assert resp.json()["error"] == "invalid_request"


def test_deny_next_denies_once(idp: OidcProvider) -> None:
    idp.deny_next()
    with oidc_client() as client:
        url, state = client.create_authorization_url(f"{idp.issuer}/authorize", code_verifier=verifier())
        back = follow_to_client(url)
        assert back["error"] == "access_denied" and back["state"] == state and "code" not in back
        url, _ = client.create_authorization_url(f"{idp.issuer}/authorize", code_verifier=verifier())
        assert "code" in follow_to_client(url)


def test_no_user_is_login_required(bare_idp: OidcProvider) -> None:
    with oidc_client() as client:
        url, state = client.create_authorization_url(f"{bare_idp.issuer}/authorize", code_verifier=verifier())
    back = follow_to_client(url)
    assert back["error"] == "login_required" and back["state"] == state


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("nonce", InvalidClaimError),
        ("audience", InvalidClaimError),
        ("issuer", InvalidClaimError),
        ("expired", ExpiredTokenError),
        ("signature", BadSignatureError),
    ],
)
def test_tampered_id_token_fails_validation(idp: OidcProvider, kind: TamperKind, error: type[JoseError]) -> None:
    idp.tamper_next_id_token(kind)
    with oidc_client() as client:
        token, nonce, _ = sign_in(idp, client)
        with pytest.raises(error):
            validate_id_token(token["id_token"], discover(idp), nonce)
        token, nonce, _ = sign_in(idp, client)
    assert validate_id_token(token["id_token"], discover(idp), nonce)["sub"] == "u-123"  # only the next one


def test_tamper_kind_and_protocol_claims_are_checked(bare_idp: OidcProvider) -> None:
    with pytest.raises(ValueError, match="tamper"):
        bare_idp.tamper_next_id_token("everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aud"):
        bare_idp.login_as("u-1", aud="someone")


def test_userinfo_refuses_unknown_token(idp: OidcProvider) -> None:
    resp = httpx.get(f"{idp.issuer}/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"


def test_provider_stops_cleanly() -> None:
    before = set(threading.enumerate())
    provider = OidcProvider().start()
    port = urllib.parse.urlsplit(provider.issuer).port
    assert port
    assert httpx.get(provider.discovery_url).status_code == 200
    provider.stop()
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


# --------------------------------------------------------------------------------------------
# GitHub stand-in


@pytest.fixture
def github(github_oauth: GitHubOAuthStub) -> GitHubOAuthStub:  # noqa: F811 - the fixture imported above
    github_oauth.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    github_oauth.login_as(
        "alice",
        id=4242,
        name="Alice",
        email=None,
        emails=[
            {"email": "alice@users.noreply.example", "primary": False, "verified": True},
            {"email": "alice@example.com", "primary": True, "verified": True},
        ],
    )
    return github_oauth


def github_client() -> OAuth2Client:
    return OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="read:user user:email",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )


def github_code(stub: GitHubOAuthStub, client: OAuth2Client, code_verifier: str) -> str:
    url, state = client.create_authorization_url(f"{stub.base_url}/login/oauth/authorize", code_verifier=code_verifier)
    back = follow_to_client(url)
    assert back["state"] == state
    return back["code"]


@pytest.mark.parametrize(("github_oauth", "prefix"), [(False, "/rest"), (True, "/api/v3")], indirect=["github_oauth"])
def test_github_sign_in_happy_path(github: GitHubOAuthStub, prefix: str) -> None:
    assert github.api_url == f"{github.base_url}{prefix}"
    code_verifier = verifier()
    with github_client() as client:
        code = github_code(github, client, code_verifier)
        token = client.fetch_token(
            f"{github.base_url}/login/oauth/access_token", code=code, code_verifier=code_verifier
        )
        assert token["access_token"].startswith("gho_")
        assert token["token_type"] == "bearer" and token["scope"] == "read:user,user:email"
        user = client.get(f"{github.api_url}/user")
        assert user.status_code == 200
        assert user.json() == {"login": "alice", "id": 4242, "name": "Alice", "email": None, "type": "User"}
    emails = httpx.get(f"{github.api_url}/user/emails", headers={"Authorization": f"token {token['access_token']}"})
    assert emails.status_code == 200
    assert [e["email"] for e in emails.json() if e["primary"] and e["verified"]] == ["alice@example.com"]
    other = "/rest" if github.enterprise else "/api/v3"  # the other flavour's API is not served
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{github.base_url}{other}/user", headers=bearer).status_code == 404
    assert ("POST", "/login/oauth/access_token") in github.requests


@pytest.mark.parametrize("github_oauth", [False, True], indirect=True)
@pytest.mark.parametrize("path", ["/user", "/user/emails"])
@pytest.mark.parametrize("authorization", ["Bearer gho_unknown", "token gho_unknown", "Basic Zm9vOmJhcg==", None])
def test_github_api_refuses_bad_credentials(github: GitHubOAuthStub, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    resp = httpx.get(f"{github.api_url}{path}", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["message"] == "Bad credentials"


def test_github_token_exchange_answers_like_github(github: GitHubOAuthStub) -> None:
    url = f"{github.base_url}/login/oauth/access_token"
    code_verifier = verifier()
    with github_client() as client:
        code = github_code(github, client, code_verifier)
        form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT}

        wrong = httpx.post(url, data={**form, "client_secret": "nope", "code_verifier": code_verifier})
        assert wrong.status_code == 200
        assert wrong.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert dict(urllib.parse.parse_qsl(wrong.text))["error"] == "incorrect_client_credentials"

        # without Accept: application/json GitHub answers form-encoded
        ok = httpx.post(url, data={**form, "code_verifier": code_verifier})
        assert ok.status_code == 200
        answer = dict(urllib.parse.parse_qsl(ok.text))
        assert answer["access_token"].startswith("gho_") and answer["token_type"] == "bearer"

        replay = httpx.post(url, data={**form, "code_verifier": code_verifier}, headers={"Accept": "application/json"})
        assert replay.status_code == 200 and replay.json()["error"] == "bad_verification_code"

        code = github_code(github, client, code_verifier)
        with pytest.raises(OAuthError) as caught:
            client.fetch_token(url, code=code, code_verifier=verifier())
        assert caught.value.error == "bad_verification_code"


def test_github_emails_need_the_email_scope(github: GitHubOAuthStub) -> None:
    code_verifier = verifier()
    with OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope="read:user", redirect_uri=REDIRECT, code_challenge_method="S256"
    ) as client:
        code = github_code(github, client, code_verifier)
        client.fetch_token(f"{github.base_url}/login/oauth/access_token", code=code, code_verifier=code_verifier)
        assert client.get(f"{github.api_url}/user").status_code == 200
        assert client.get(f"{github.api_url}/user/emails").status_code == 404


@pytest.mark.parametrize(
    "pkce",
    [
        pytest.param({}, id="missing"),
        pytest.param({"code_challenge": s256(verifier()), "code_challenge_method": "plain"}, id="plain"),
    ],
)
def test_github_authorize_requires_s256_pkce(github: GitHubOAuthStub, pkce: dict[str, str]) -> None:
    back = follow_to_client(
        f"{github.base_url}/login/oauth/authorize", client_id=CLIENT_ID, redirect_uri=REDIRECT, state="st-2", **pkce
    )
    assert back["error"] == "invalid_request" and back["state"] == "st-2" and "code" not in back


def test_github_deny_next(github: GitHubOAuthStub) -> None:
    github.deny_next()
    with github_client() as client:
        url, state = client.create_authorization_url(
            f"{github.base_url}/login/oauth/authorize", code_verifier=verifier()
        )
        back = follow_to_client(url)
        assert back["error"] == "access_denied" and back["state"] == state and "code" not in back
        url, _ = client.create_authorization_url(f"{github.base_url}/login/oauth/authorize", code_verifier=verifier())
        assert "code" in follow_to_client(url)  # only the next one
