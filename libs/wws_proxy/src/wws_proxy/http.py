"""One HTTP request through the proxy: the body streams to the upstream as it arrives, the
answer streams back as it is produced (a download is never held in memory)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpcore

from wws_proxy.headers import passable, problem

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

DROP_REQUEST = (b"host", b"content-length-ignored", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for")


class ClientGone(Exception):
    """The client went away while its request body was still arriving."""


async def send_problem(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """RFC 9457 problem details as a raw ASGI HTTP answer."""
    body = json.dumps(problem(status, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _body(receive: Receive, done: asyncio.Event) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            done.set()
            return


async def _gone(receive: Receive, body_done: asyncio.Event) -> None:
    """Returns when the client disconnects (listening only once its body is all read)."""
    await body_done.wait()
    while (await receive())["type"] != "http.disconnect":
        pass


def _has_body(scope: Scope) -> bool:
    names = {k.lower() for k, _ in scope.get("headers", ())}
    return b"content-length" in names or b"transfer-encoding" in names


TIMEOUTS = {"connect": 30.0, "read": None, "write": 30.0, "pool": 30.0}
"""No read timeout: a proxied response may stream for as long as its app wants (a log tail,
a download); the client going away ends it."""


async def forward_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    pool: httpcore.AsyncConnectionPool,
    url: str,
    headers: list[tuple[bytes, bytes]],
    drop: tuple[bytes, ...] = (),
    response_headers: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]] | None = None,
) -> int:
    """Forward the request of ``scope`` to ``url`` (query string included by the caller),
    with the client's end-to-end headers minus ``drop`` plus ``headers``, over a keep-alive
    connection of ``pool`` (httpcore: a proxy needs no request/response models on top).
    Returns the status sent (502/504 when the upstream could not be reached)."""
    out = passable(scope.get("headers", ()), drop=(*DROP_REQUEST, *drop)) + headers
    body_done = asyncio.Event()
    if _has_body(scope):
        if not any(k.lower() == b"content-length" for k, _ in out):
            out.append((b"transfer-encoding", b"chunked"))
        content: AsyncIterator[bytes] | None = _body(receive, body_done)
    else:
        content = None
        body_done.set()
    exchange = asyncio.ensure_future(
        _exchange(send, pool, scope["method"].encode(), url, out, content, response_headers)
    )
    watcher = asyncio.ensure_future(_gone(receive, body_done))
    # a client that leaves ends the upstream request too (a long poll, a stream, an exec
    # waiting for its command): the far end sees the connection close
    await asyncio.wait({exchange, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if exchange.done():
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        return exchange.result()
    exchange.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await exchange
    return 499


async def _exchange(
    send: Send,
    pool: httpcore.AsyncConnectionPool,
    method: bytes,
    url: str,
    out: list[tuple[bytes, bytes]],
    content: AsyncIterator[bytes] | None,
    response_headers: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]] | None,
) -> int:
    try:
        async with pool.stream(method, url, headers=out, content=content, extensions={"timeout": TIMEOUTS}) as response:
            back = passable(response.headers, drop=(b"date", b"server"))
            # the serving end adds its own date and server: passing the upstream's doubles them
            if response_headers is not None:
                back = response_headers(back)
            await send({"type": "http.response.start", "status": response.status, "headers": back})
            status = response.status
            try:
                async for chunk in response.aiter_stream():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (httpcore.ReadError, httpcore.RemoteProtocolError, OSError):
                pass  # the upstream broke off mid-answer: the client sees a truncated body, as it would directly
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return status
    except ClientGone:
        return 499
    except httpcore.TimeoutException:
        await send_problem(send, 504, "the workspace did not answer in time")
        return 504
    except (httpcore.ConnectError, httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
        await send_problem(send, 502, f"the workspace cannot be reached: {type(exc).__name__}")
        return 502
