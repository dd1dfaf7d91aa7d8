"""Reverse proxying for raw ASGI handlers: HTTP (streamed both ways, httpcore) and WebSocket
(frame by frame, websockets). The API uses it to reach a host's gateway; the gateway uses
it to reach a port inside a workspace."""

from wws_proxy.headers import forwarded_headers, problem
from wws_proxy.http import forward_http, send_problem
from wws_proxy.ws import UpstreamRefused, connect_upstream, deny_websocket, forward_ws

__all__ = [
    "UpstreamRefused",
    "connect_upstream",
    "deny_websocket",
    "forward_http",
    "forward_ws",
    "forwarded_headers",
    "problem",
    "send_problem",
]
