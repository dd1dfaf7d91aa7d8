"""The IDE and a workspace's other ports, over HTTP and WebSocket: reverse-proxied to
127.0.0.1:<port> inside the workspace's network namespace (see ``netns``)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import httpx
from litestar import Router, WebSocket, route, websocket
from litestar.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from wws_events.gateway import GatewayClaims
from wws_provisioner.gateway import netns
from wws_provisioner.gateway.context import GatewayContext, GatewayError, claims_of, note_use, require
from wws_provisioner.plan import IDE_CONTAINER_PORT
from wws_proxy import deny_websocket, forward_http, forward_ws, send_problem
from wws_proxy.headers import header, passable

PORT_MIN, PORT_MAX = 1, 65535
VSCODE_IDLE_FRAMES = frozenset({3, 9})
"""VS Code's remote protocol frames that are no one's work: Ack (3) and KeepAlive (9). An
open but untouched IDE tab sends them forever; they must not keep a workspace alive."""


def counts_as_work(data: str | bytes) -> bool:
    """A client-to-workspace WebSocket frame that someone's use caused (see VSCODE_IDLE_FRAMES:
    a 13-byte header-only frame of type Ack or KeepAlive is the IDE's own heartbeat)."""
    return not (isinstance(data, bytes) and len(data) == 13 and data[0] in VSCODE_IDLE_FRAMES)


class Upstreams:
    """One keep-alive HTTP client per running container (its namespace is its init pid)."""

    def __init__(self) -> None:
        self._clients: dict[int, httpx.AsyncClient] = {}

    def client(self, pid: int) -> httpx.AsyncClient:
        found = self._clients.get(pid)
        if found is None:
            found = httpx.AsyncClient(
                transport=netns.NetnsTransport(pid), timeout=httpx.Timeout(30.0, read=None), follow_redirects=False
            )
            self._clients[pid] = found
        return found

    async def forget(self, pid: int) -> None:
        client = self._clients.pop(pid, None)
        if client is not None:
            await client.aclose()

    async def close(self) -> None:
        for pid in list(self._clients):
            await self.forget(pid)


def _target(scope: dict[str, Any], prefix: str) -> str:
    """The upstream path: what follows ``prefix`` as sent (percent-encoding kept), and the query."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    at = raw.find(prefix)
    path = raw[at + len(prefix) :] if at >= 0 else "/"
    if not path.startswith("/"):
        path = "/" + path
    query = scope.get("query_string", b"")
    return path + ("?" + query.decode("latin-1") if query else "")


async def _locate(
    ctx: GatewayContext, scope: dict[str, Any], workspace_id: uuid.UUID, scope_name: str
) -> tuple[GatewayClaims, int]:
    claims = claims_of(scope)
    require(claims, workspace_id, scope_name)
    ref = await ctx.locate(workspace_id)
    if ref.pid is None:
        raise GatewayError(409, "the workspace is not running")
    return claims, ref.pid


def _http(
    ctx: GatewayContext,
    upstreams: Upstreams,
    workspace_id: uuid.UUID,
    port: int,
    scope_name: str,
    source: str,
    prefix: str,
) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw: dict[str, Any] = dict(scope)
        try:
            claims, pid = await _locate(ctx, raw, workspace_id, scope_name)
        except GatewayError as exc:
            await send_problem(send, exc.status, exc.message)  # type: ignore[arg-type]
            return
        host = header(raw, b"x-forwarded-host") or header(raw, b"host") or "localhost"
        note_use(ctx.activity, claims, source)
        await forward_http(
            raw,
            receive,
            send,  # type: ignore[arg-type]
            client=upstreams.client(pid),
            url=f"http://127.0.0.1:{port}{_target(raw, prefix)}",
            headers=[(b"host", host.encode("latin-1"))],
            drop=(b"authorization",),
        )

    return app


async def _ws(
    ctx: GatewayContext,
    socket: WebSocket[Any, Any, Any],
    workspace_id: uuid.UUID,
    port: int,
    scope_name: str,
    source: str,
    prefix: str,
) -> None:
    raw: dict[str, Any] = dict(socket.scope)
    try:
        claims, pid = await _locate(ctx, raw, workspace_id, scope_name)
    except GatewayError as exc:
        await socket.receive()
        await deny_websocket(raw, socket.send, exc.status, exc.message)  # type: ignore[arg-type]
        return
    host = header(raw, b"x-forwarded-host") or header(raw, b"host") or "localhost"
    target = _target(raw, prefix)

    async def connect() -> ClientConnection:
        sock = await netns.connect(pid, port)
        extra = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in passable(raw.get("headers", ()), drop=_WS_DROP)]
        # the URI's host is only the Host header (the socket is already connected): the
        # original host, so code-server's Origin check compares like with like
        return await ws_connect(
            f"ws://{host}{target}",
            sock=sock,
            additional_headers=extra,
            subprotocols=raw.get("subprotocols") or None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=15,
        )

    def frame(data: str | bytes) -> None:
        if counts_as_work(data):
            note_use(ctx.activity, claims, source)

    await forward_ws(raw, socket.receive, socket.send, connect=connect, on_client_frame=frame)  # type: ignore[arg-type]


_WS_DROP = (
    b"authorization",
    b"host",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-extensions",
    b"sec-websocket-protocol",
)
_METHODS: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]] = [
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "HEAD",
    "OPTIONS",
]
IDE = "/w/{workspace_id:uuid}/ide"
PORT = "/w/{workspace_id:uuid}/port/{port:int}"


def _port(number: int) -> int:
    if not PORT_MIN <= number <= PORT_MAX:
        raise GatewayError(400, "port must be 1-65535")
    return number


def forward_router(ctx: GatewayContext, upstreams: Upstreams) -> Router:
    # HTTP handlers answer with a raw ASGI app (Litestar calls it with the request's own
    # scope, receive and send): bodies stream through, nothing is buffered
    @route([IDE, f"{IDE}/{{rest:path}}"], http_method=_METHODS)
    async def ide(workspace_id: uuid.UUID) -> ASGIApp:
        return _http(ctx, upstreams, workspace_id, IDE_CONTAINER_PORT, "ide", "ide", f"/w/{workspace_id}/ide")

    @websocket([IDE, f"{IDE}/{{rest:path}}"])
    async def ide_socket(socket: WebSocket[Any, Any, Any], workspace_id: uuid.UUID) -> None:
        await _ws(ctx, socket, workspace_id, IDE_CONTAINER_PORT, "ide", "ide", f"/w/{workspace_id}/ide")

    @route([PORT, f"{PORT}/{{rest:path}}"], http_method=_METHODS)
    async def port(workspace_id: uuid.UUID, port: int) -> ASGIApp:
        return _http(
            ctx, upstreams, workspace_id, _port(port), f"port:{port}", "port", f"/w/{workspace_id}/port/{port}"
        )

    @websocket([PORT, f"{PORT}/{{rest:path}}"])
    async def port_socket(socket: WebSocket[Any, Any, Any], workspace_id: uuid.UUID, port: int) -> None:
        await _ws(ctx, socket, workspace_id, _port(port), f"port:{port}", "port", f"/w/{workspace_id}/port/{port}")

    return Router(path="/", route_handlers=[ide, ide_socket, port, port_socket])
