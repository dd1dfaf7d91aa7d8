"""Which headers cross a proxy hop (RFC 9110 7.6.1: connection-specific ones never do)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
WEBSOCKET_HANDSHAKE = frozenset(
    {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol", b"host"}
)
"""The WebSocket client library writes its own handshake."""


def problem(status: int, detail: str) -> dict[str, Any]:
    """An RFC 9457 problem document (every refusal on the proxy path has this shape)."""
    return {"type": "about:blank", "title": detail, "status": status, "detail": detail}


def _listed_in_connection(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for k, v in headers:
        if k.lower() == b"connection":
            named |= {t.strip().lower() for t in v.split(b",") if t.strip()}
    return named


def passable(headers: Iterable[tuple[bytes, bytes]], drop: Iterable[bytes] = ()) -> list[tuple[bytes, bytes]]:
    """``headers`` minus hop-by-hop ones, those named by ``Connection``, and ``drop``."""
    items = list(headers)
    gone = HOP_BY_HOP | _listed_in_connection(items) | {d.lower() for d in drop}
    return [(k, v) for k, v in items if k.lower() not in gone]


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return bytes(v).decode("latin-1")
    return None


def forwarded_headers(scope: Mapping[str, Any], client_ip: str | None) -> list[tuple[bytes, bytes]]:
    """``X-Forwarded-Host/-Proto/-For`` describing the original request, so the far end
    (code-server checks a WebSocket's Origin against the host) sees what the browser saw.
    An ``X-Forwarded-*`` header that came in is kept (the previous hop set it)."""
    host = header(scope, b"x-forwarded-host") or header(scope, b"host") or ""
    proto = header(scope, b"x-forwarded-proto") or ("https" if scope.get("scheme") in ("https", "wss") else "http")
    chain = header(scope, b"x-forwarded-for")
    ip = client_ip or ""
    forwarded_for = f"{chain}, {ip}" if chain and ip else chain or ip
    out = [(b"x-forwarded-host", host.encode("latin-1")), (b"x-forwarded-proto", proto.encode("latin-1"))]
    if forwarded_for:
        out.append((b"x-forwarded-for", forwarded_for.encode("latin-1")))
    return out
