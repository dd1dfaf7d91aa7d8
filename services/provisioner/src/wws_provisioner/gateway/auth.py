"""Every gateway request carries ``Authorization: Bearer <token the API signed>``; this ASGI
middleware checks it before any handler runs and leaves the claims in the scope."""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from wws_provisioner.gateway.context import CLAIMS_KEY, GatewayError
from wws_provisioner.gateway.keys import TokenVerifier
from wws_proxy import deny_websocket, send_problem

OPEN_PATHS = frozenset({"/healthz"})


def _bearer(scope: Scope) -> str | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == b"authorization":
            scheme, _, token = bytes(v).decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def token_middleware(verifier: TokenVerifier) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
                await app(scope, receive, send)
                return
            try:
                token = _bearer(scope)
                if token is None:
                    raise GatewayError(401, "a gateway token is required (Authorization: Bearer)")
                scope[CLAIMS_KEY] = verifier.verify(token)  # type: ignore[literal-required]
            except GatewayError as exc:
                if scope["type"] == ScopeType.WEBSOCKET:
                    await receive()  # the websocket.connect message comes first
                    await deny_websocket(dict(scope), send, exc.status, exc.message)  # type: ignore[arg-type]
                else:
                    await send_problem(send, exc.status, exc.message)  # type: ignore[arg-type]
                return
            await app(scope, receive, send)

        return middleware

    return factory
