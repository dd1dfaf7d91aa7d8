"""Subdomain routing, the option beside path-based routing: with ``WWS_API_WILDCARD_DOMAIN``
set to ``ws.example.com`` (a wildcard DNS record and certificate for ``*.ws.example.com``
pointing at the API), ``ide--<workspace id>.ws.example.com`` is the workspace's IDE and
``<port>--<workspace id>.ws.example.com`` one of its ports, each on an origin of its own
(an app's scripts then share nothing with the API's origin or another workspace's).

Such a request is rewritten to the path-based route before routing, so authentication,
the access policy and the proxy are exactly those of ``/api/v1/workspaces/<id>/ide/…``."""

from __future__ import annotations

import re
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send


def host_pattern(domain: str) -> re.Pattern[str]:
    return re.compile(
        r"^(?P<app>ide|\d{1,5})--(?P<ws>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\."
        + re.escape(domain.strip(".").lower())
        + r"(?::\d+)?$"
    )


def rewrite(scope: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    """Point ``scope`` at the path-based route when its Host names a workspace app."""
    host = next((bytes(v).decode("latin-1").lower() for k, v in scope.get("headers", ()) if k == b"host"), "")
    found = pattern.match(host)
    if found is None:
        return False
    app = found.group("app")
    prefix = f"/api/v1/workspaces/{found.group('ws')}/" + ("ide" if app == "ide" else f"ports/{int(app)}")
    scope["path"] = prefix + scope["path"]
    scope["raw_path"] = prefix.encode() + bytes(scope.get("raw_path") or scope["path"].encode())
    return True


def routing(app: ASGIApp, domain: str) -> ASGIApp:
    pattern = host_pattern(domain)

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        rewrite(scope, pattern)  # type: ignore[arg-type]
        await app(scope, receive, send)

    return route
