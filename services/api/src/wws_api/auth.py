"""Authentication: who is calling. For now one admin bearer token from configuration
(issue #5 brings users, tokens and roles); every request still yields an ``Actor`` so
events record who acted and from where."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from wws_events import Actor


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    actor: Actor
    org_id: str


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


class BearerAuth(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer <token>``; the app's state carries the expected token."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("missing bearer token (Authorization: Bearer <token>)")
        expected: str = connection.app.state.admin_token
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise NotAuthorizedException("invalid token")
        ip = client_ip(connection, connection.app.state.trusted_proxies)
        principal = Principal(
            actor=Actor(type="user", id="admin", ip=ip, display="bootstrap admin"), org_id=connection.app.state.org_id
        )
        return AuthenticationResult(user=principal, auth=None)
