"""Browser login: start (state, nonce and PKCE verifier kept server-side, one use, ten
minutes), finish (the provider's identity → a WWS user, created on first login; OIDC
users may auto-join an organization, and their groups set their teams), then a session.

Accounts are never linked by email address: a second provider is linked only from a
logged-in session (``?link=true``), so an identity provider that does not verify
addresses cannot take over an account.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

import structlog
from authlib.common.security import generate_token

from wws_api import errors
from wws_api.accounts import Accounts, LoginState, NewSession, new_user_id
from wws_api.identity import Identity
from wws_api.oauth import LoginIdentity, Provider
from wws_api.settings import ApiSettings
from wws_events import Actor
from wws_events import identity as i
from wws_events import org as o

log = structlog.get_logger("wws.api.login")
SYSTEM_LOGIN = Actor(type="system", id="login")


def safe_next(value: str | None) -> str:
    """Only a path on this server (no scheme, no host, no ``//``): no open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/api/v1/users/me"


_LINKING = "link:"


def _remember(target: str, link_user: str | None) -> str:
    """``target`` (from :func:`safe_next`, so it starts with ``/``), prefixed by the linking user:
    no ``next`` a caller passes can pose as a linking login (that would link the caller's
    provider account to someone else's WWS user)."""
    return f"{_LINKING}{link_user}#{target}" if link_user else target


def _recall(stored: str) -> tuple[str, str | None]:
    if stored.startswith(_LINKING):
        link_user, _, target = stored.removeprefix(_LINKING).partition("#")
        return target, link_user
    return stored, None


class Login:
    def __init__(
        self, identity: Identity, accounts: Accounts, providers: dict[str, Provider], settings: ApiSettings
    ) -> None:
        self.identity = identity
        self.accounts = accounts
        self.providers = providers
        self.settings = settings

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise errors.NotFound("login provider", name)
        return found

    def redirect_uri(self, base_url: str, name: str) -> str:
        base = (self.settings.public_url or base_url).rstrip("/")
        return f"{base}/api/v1/auth/{name}/callback"

    async def begin(self, name: str, base_url: str, next_path: str | None, link_user: str | None) -> tuple[str, str]:
        """(the provider's authorization URL, the state). The caller binds the state to the
        browser with a cookie, so a login started elsewhere cannot be finished here (login
        CSRF, RFC 6749 §10.12)."""
        provider = self.provider(name)
        state = generate_token(43)
        nonce = generate_token(32)
        verifier = generate_token(64)
        # a linking login remembers who asked, inside the one-use state row
        target = _remember(safe_next(next_path), link_user)
        await self.accounts.begin_login(
            state, LoginState(provider=name, nonce=nonce, code_verifier=verifier, redirect_to=target)
        )
        return await provider.authorize_url(self.redirect_uri(base_url, name), state, nonce, verifier), state

    async def finish(
        self,
        name: str,
        base_url: str,
        code: str,
        state: str,
        browser_state: str | None,
        ip: str | None,
        user_agent: str | None,
    ) -> tuple[NewSession, str]:
        provider = self.provider(name)
        if not browser_state or not hmac.compare_digest(browser_state.encode(), state.encode()):
            raise errors.LoginFailed("this login was not started in this browser; start it again")
        login = await self.accounts.finish_login(state, name)
        if login is None:
            raise errors.LoginFailed("unknown or expired login state; start the login again")
        found = await provider.identity(code, self.redirect_uri(base_url, name), login.code_verifier, login.nonce)
        target, link = _recall(login.redirect_to)
        user_id = await self._user(found, link)
        if not await self._may_log_in(user_id):
            raise errors.LoginFailed("this account is suspended")
        session = await self.accounts.create_session(
            user_id, found.provider, timedelta(seconds=self.settings.session_ttl_s), ip, user_agent
        )
        return session, target

    async def _may_log_in(self, user_id: str) -> bool:
        suspended = await self.identity.pool.fetchval("SELECT suspended FROM id_users WHERE user_id = $1", user_id)
        return suspended is False

    async def _user(self, found: LoginIdentity, link_user: str | None) -> str:
        ident = i.UserIdentityLinked(
            provider=found.provider,
            subject=found.subject,
            login=found.login,
            email=found.email,
            email_verified=found.email_verified,
        )
        pool = self.identity.pool
        owner: str | None = await pool.fetchval(
            "SELECT user_id FROM id_identities WHERE provider = $1 AND subject = $2", found.provider, found.subject
        )
        if link_user is not None:
            if owner is not None and owner != link_user:
                raise errors.LoginFailed(f"this {found.provider} account already belongs to another WWS user")
            await self.identity.run_user(link_user, i.LinkIdentity(identity=ident), Actor(type="user", id=link_user))
            return link_user
        if owner is None:
            owner = new_user_id()
            await self.identity.run_user(
                owner,
                i.CreateUser(user_id=owner, login=found.login, name=found.name, email=found.email, identity=ident),
                SYSTEM_LOGIN,
            )
            log.info("login.user_created", user_id=owner, provider=found.provider)
        else:
            # refresh what the provider says (a changed login or verified address)
            await self.identity.run_user(owner, i.LinkIdentity(identity=ident), SYSTEM_LOGIN)
        if found.provider == "oidc":
            await self._oidc_orgs(owner, found.groups)
        return owner

    async def _oidc_orgs(self, user_id: str, groups: list[str]) -> None:
        pool = self.identity.pool
        if self.settings.oidc_default_org:
            org_id = await self.identity.resolve_org(pool, self.settings.oidc_default_org)
            member = org_id and await pool.fetchval(
                "SELECT 1 FROM id_members WHERE org_id = $1 AND user_id = $2", org_id, user_id
            )
            if org_id and not member:
                await self.identity.run_org(
                    org_id, o.AddMember(user_id=user_id, role="member", by_owner=False), SYSTEM_LOGIN
                )
        for r in await pool.fetch("SELECT org_id FROM id_members WHERE user_id = $1", user_id):
            await self.identity.run_org(r["org_id"], o.SyncTeams(user_id=user_id, groups=groups), SYSTEM_LOGIN)


__all__ = ["Login", "safe_next", "secrets"]
