"""One WebSocket through the proxy: the upstream handshake first (so a refusal reaches the
client as the upstream's HTTP status, not as an opaque close), then frames both ways until
either side closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wws_proxy.headers import WEBSOCKET_HANDSHAKE, passable, problem

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class UpstreamRefused(Exception):
    """The upstream answered the handshake with an HTTP status instead of switching."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        super().__init__(f"upstream refused the WebSocket: {status}")


async def deny_websocket(scope: Scope, send: Send, status: int, detail: str, body: bytes | None = None) -> None:
    """Refuse a WebSocket handshake with an HTTP answer when the server supports it (the
    ASGI ``websocket.http.response`` extension; uvicorn does), else with close code 4000+status."""
    if "websocket.http.response" in scope.get("extensions", {}):
        payload = body or json.dumps(problem(status, detail)).encode()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": payload, "more_body": False})
        return
    await send({"type": "websocket.close", "code": 4000 + status if status < 1000 else 1011, "reason": detail[:120]})


async def connect_upstream(
    url: str,
    scope: Scope,
    *,
    drop: tuple[bytes, ...] = (),
    extra: list[tuple[bytes, bytes]] | None = None,
    sock: socket.socket | None = None,
) -> ClientConnection:
    """The upstream WebSocket for the client's handshake in ``scope``: its end-to-end
    headers (minus ``drop``; the library writes the handshake's own) plus ``extra``, its
    subprotocols, no compression or size limit (frames pass through as they are) and no
    pings (the two ends keep their own connection alive). With ``sock`` (already
    connected), the URL's host is only the Host header."""
    headers = [*passable(scope.get("headers", ()), drop=(*WEBSOCKET_HANDSHAKE, *drop)), *(extra or [])]
    return await ws_connect(
        url,
        sock=sock,
        additional_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
        subprotocols=scope.get("subprotocols") or None,
        compression=None,
        max_size=None,
        ping_interval=None,
        open_timeout=15,
    )


async def open_upstream(connect: Callable[[], Awaitable[ClientConnection]]) -> ClientConnection:
    try:
        return await connect()
    except InvalidStatus as exc:
        response = exc.response
        raise UpstreamRefused(
            response.status_code, bytes(response.body or b""), response.headers.get("content-type", "")
        ) from exc


async def forward_ws(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    connect: Callable[[], Awaitable[ClientConnection]],
    on_client_frame: Callable[[str | bytes], None] | None = None,
) -> None:
    """Proxy the WebSocket of ``scope`` to the connection ``connect`` opens."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    try:
        upstream = await open_upstream(connect)
    except UpstreamRefused as exc:
        await deny_websocket(scope, send, exc.status, "refused upstream", exc.body)
        return
    except (TimeoutError, OSError) as exc:
        await deny_websocket(scope, send, 502, f"the workspace cannot be reached: {type(exc).__name__}")
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(code=message.get("code", 1000) if message.get("code", 1000) >= 1000 else 1000)
                return
            if message["type"] != "websocket.receive":
                continue
            data: str | bytes = message["text"] if message.get("text") is not None else message.get("bytes") or b""
            if on_client_frame is not None:
                on_client_frame(data)
            await upstream.send(data)

    async def upstream_to_client() -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        code = upstream.close_code or 1000
        # 1005/1006 mean "no code"/"abnormal": they may not be sent in a close frame
        await send(
            {
                "type": "websocket.close",
                "code": 1000 if code in (1005, 1006) else code,
                "reason": upstream.close_reason or "",
            }
        )

    tasks = [asyncio.create_task(client_to_upstream()), asyncio.create_task(upstream_to_client())]
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError, RuntimeError):
                await task
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()
