"""Authentication: who is calling, and in which organization.

Credentials, in order: ``Authorization: Bearer wws_…`` (an API token), the bootstrap
token (``WWS_API_ADMIN_TOKEN``, the first owner; unset disables it), the session cookie.
A request without credentials is anonymous (``request.user`` is None); whether that is
enough is the access guard's decision, per route. Cookie-authenticated writes must
carry the session's CSRF token in ``X-CSRF-Token`` (a cross-site form cannot read it).

The organization a request acts in: ``WWS-Org`` (id or name) or ``?org=``, else the
user's default organization.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from wws_api.accounts import Accounts, Authenticated
from wws_api.identity import BOOTSTRAP_USER, Identity
from wws_authz import Subject
from wws_events import Actor

SESSION_COOKIE = "wws_session"
CSRF_HEADER = "x-csrf-token"
ORG_HEADER = "wws-org"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_PROXIED = re.compile(r"^/api/v1/(workspaces/[^/]+/(ide|ports/\d+)|shares/[^/]+)(/|$)")
"""Apps behind the proxy (code-server, a dev server) cannot send WWS's CSRF header: their
cookie-authenticated writes are checked by origin instead."""


def same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """The browser says the request comes from a page of this very host (``Origin``, or
    ``Sec-Fetch-Site`` when there is no Origin); a request with neither is not a browser's."""
    origin = connection.headers.get("origin")
    if origin:
        host = connection.headers.get("host", "")
        return origin.split("://", 1)[-1].rstrip("/") == host
    return connection.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    actor: Actor
    org_id: str
    """The organization this request acts in ("" when the user belongs to none)."""
    subject: Subject
    auth: Authenticated

    @property
    def user_id(self) -> str:
        return self.subject.user_id


def client_ip(connection: ASGIConnection[Any, Any, Any, Any], trusted: frozenset[str]) -> str | None:
    """The caller's address; ``X-Forwarded-For`` counts only when the peer is a trusted proxy."""
    peer = _ip(connection.client.host) if connection.client else None
    if peer is not None and peer in trusted and (fwd := connection.headers.get("x-forwarded-for")):
        return _ip(fwd.split(",")[0].strip()) or peer
    return peer


def _ip(value: str) -> str | None:
    """Only real addresses are recorded (a Unix-socket peer or a test client has none)."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class Authenticator(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        state = connection.app.state
        accounts: Accounts = state.services.accounts
        identity: Identity = state.services.identity
        found = await self._credentials(connection, accounts, state.bootstrap_token)
        if found is None:
            return AuthenticationResult(user=None, auth=None)
        who = await identity.whoami(identity.pool, found.user_id, found.scopes)
        if who is None:
            raise NotAuthorizedException("the credential's user no longer exists")
        subject, login, default_org = who
        websocket = str(connection.scope["type"]) == "websocket"
        if found.via == "session" and (websocket or _PROXIED.match(connection.scope["path"])):
            # cross-site WebSocket hijacking and proxied-app CSRF: only pages of this host
            if (websocket or connection.scope.get("method", "GET") not in _SAFE) and not same_origin(connection):
                raise PermissionDeniedException("cross-origin request refused")
        elif found.via == "session" and connection.scope.get("method", "GET") not in _SAFE:
            sent = connection.headers.get(CSRF_HEADER, "")
            if not (found.csrf and hmac.compare_digest(sent.encode(), found.csrf.encode())):
                raise PermissionDeniedException(f"cookie-authenticated writes need the session's {CSRF_HEADER} header")
        wanted = connection.headers.get(ORG_HEADER) or connection.query_params.get("org")
        if wanted and wanted in subject.roles:
            org_id = wanted
        elif wanted:
            org_id = await identity.resolve_org(identity.pool, wanted) or wanted
        else:
            org_id = default_org or ""
        actor = Actor(type="user", id=found.user_id, ip=client_ip(connection, state.trusted_proxies), display=login)
        return AuthenticationResult(user=Principal(actor=actor, org_id=org_id, subject=subject, auth=found), auth=found)

    async def _credentials(
        self, connection: ASGIConnection[Any, Any, Any, Any], accounts: Accounts, bootstrap: str | None
    ) -> Authenticated | None:
        header = connection.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise NotAuthorizedException("use Authorization: Bearer <token>")
            if bootstrap is not None and hmac.compare_digest(token.encode(), bootstrap.encode()):
                return Authenticated(user_id=BOOTSTRAP_USER, via="bootstrap")
            found = await accounts.by_token(token)
            if found is None:
                raise NotAuthorizedException("invalid, expired or revoked token")
            return found
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie:
            found = await accounts.by_session(cookie)
            if found is None:
                raise NotAuthorizedException("the session has ended; log in again")
            return found
        return None
