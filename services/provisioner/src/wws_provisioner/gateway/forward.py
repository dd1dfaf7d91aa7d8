"""The IDE and a workspace's other ports, over HTTP and WebSocket: reverse-proxied to
127.0.0.1:<port> inside the workspace's network namespace (see ``netns``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import httpcore
from litestar.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection

from wws_events.gateway import GatewayClaims
from wws_provisioner.gateway import netns
from wws_provisioner.gateway.context import GatewayContext, GatewayError, claims_of, note_use, require
from wws_provisioner.plan import IDE_CONTAINER_PORT
from wws_proxy import connect_upstream, deny_websocket, forward_http, forward_ws, send_problem
from wws_proxy.headers import header

PORT_MIN, PORT_MAX = 1, 65535
VSCODE_IDLE_FRAMES = frozenset({3, 9})
"""VS Code's remote protocol frames that are no one's work: Ack (3) and KeepAlive (9). An
open but untouched IDE tab sends them forever; they must not keep a workspace alive."""


def counts_as_work(data: str | bytes) -> bool:
    """A client-to-workspace WebSocket frame that someone's use caused (see VSCODE_IDLE_FRAMES:
    a 13-byte header-only frame of type Ack or KeepAlive is the IDE's own heartbeat)."""
    return not (isinstance(data, bytes) and len(data) == 13 and data[0] in VSCODE_IDLE_FRAMES)


class Upstreams:
    """One keep-alive connection pool per running container (its namespace is its init pid)."""

    def __init__(self) -> None:
        self._pools: dict[int, httpcore.AsyncConnectionPool] = {}

    def pool(self, pid: int) -> httpcore.AsyncConnectionPool:
        found = self._pools.get(pid)
        if found is None:
            found = self._pools[pid] = netns.pool(pid)
        return found

    async def forget(self, pid: int) -> None:
        found = self._pools.pop(pid, None)
        if found is not None:
            await found.aclose()

    async def close(self) -> None:
        for pid in list(self._pools):
            await self.forget(pid)


async def _locate(
    ctx: GatewayContext, scope: dict[str, Any], workspace_id: uuid.UUID, scope_name: str
) -> tuple[GatewayClaims, int]:
    claims = claims_of(scope)
    require(claims, workspace_id, scope_name)
    ref = await ctx.locate(workspace_id)
    if ref.pid is None:
        raise GatewayError(409, "the workspace is not running")
    return claims, ref.pid


async def proxy_http(
    ctx: GatewayContext, upstreams: Upstreams, raw: dict[str, Any], receive: Any, send: Any, target: Target
) -> None:
    try:
        claims, pid = await _locate(ctx, raw, target.workspace_id, target.scope_name)
    except GatewayError as exc:
        await send_problem(send, exc.status, exc.message)
        return
    host = header(raw, b"x-forwarded-host") or header(raw, b"host") or "localhost"
    note_use(ctx.activity, claims, target.source)
    await forward_http(
        raw,
        receive,
        send,
        pool=upstreams.pool(pid),
        url=f"http://127.0.0.1:{target.port}{target.path}",
        headers=[(b"host", host.encode("latin-1"))],
        drop=(b"authorization",),
    )


async def proxy_ws(ctx: GatewayContext, raw: dict[str, Any], receive: Any, send: Any, target: Target) -> None:
    try:
        claims, pid = await _locate(ctx, raw, target.workspace_id, target.scope_name)
    except GatewayError as exc:
        await receive()
        await deny_websocket(raw, send, exc.status, exc.message)
        return
    host = header(raw, b"x-forwarded-host") or header(raw, b"host") or "localhost"

    async def connect() -> ClientConnection:
        # the original host, so code-server's Origin check compares like with like
        sock = await netns.connect(pid, target.port)
        return await connect_upstream(f"ws://{host}{target.path}", raw, drop=(b"authorization",), sock=sock)

    def frame(data: str | bytes) -> None:
        if counts_as_work(data):
            note_use(ctx.activity, claims, target.source)

    await forward_ws(raw, receive, send, connect=connect, on_client_frame=frame)


_ROUTE = re.compile(r"^/w/([0-9a-fA-F-]{36})/(ide|port/(\d{1,5}))(?=/|$)")


class Target(NamedTuple):
    workspace_id: uuid.UUID
    port: int
    scope_name: str
    source: str
    path: str
    """Upstream path and query, as the client sent them (percent-encoding kept)."""


def target_of(scope: dict[str, Any]) -> Target | None:
    """``/w/<id>/ide/…`` → code-server; ``/w/<id>/port/<n>/…`` → port n. None: not a proxy path."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    found = _ROUTE.match(raw)
    if found is None:
        return None
    try:
        workspace_id = uuid.UUID(found.group(1))
    except ValueError:
        return None
    port = int(found.group(3)) if found.group(3) else IDE_CONTAINER_PORT
    if not PORT_MIN <= port <= PORT_MAX:
        return None
    rest = raw[found.end() :] or "/"
    query = scope.get("query_string", b"")
    kind = ("ide", "ide") if found.group(2) == "ide" else (f"port:{port}", "port")
    return Target(workspace_id, port, kind[0], kind[1], rest + ("?" + query.decode("latin-1") if query else ""))


def fast_path(ctx: GatewayContext, upstreams: Upstreams) -> Callable[[ASGIApp], ASGIApp]:
    """The IDE and ports, straight from the ASGI scope to the proxy: the hottest path of the
    gateway skips the web framework's routing (every IDE asset and frame goes this way).
    Everything else falls through to the app."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            raw: dict[str, Any] = scope  # type: ignore[assignment]
            target = target_of(raw) if raw["type"] in ("http", "websocket") else None
            if target is None:
                await app(scope, receive, send)
            elif raw["type"] == "http":
                await proxy_http(ctx, upstreams, raw, receive, send, target)
            else:
                await proxy_ws(ctx, raw, receive, send, target)

        return dispatch

    return wrap
