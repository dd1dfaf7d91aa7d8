"""The gateway's HTTP server: a Litestar app under uvicorn, in the agent's own event loop.
Nothing reaches a handler without a token the API signed (``auth``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import structlog
import uvicorn
from litestar import Litestar, Router, get
from litestar.types import ASGIApp
from nats.js import JetStreamContext

from wws_provisioner.gateway.auth import token_middleware
from wws_provisioner.gateway.context import GatewayError, problem_response
from wws_provisioner.gateway.keys import TokenVerifier
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.agent.gateway")


class _Server(uvicorn.Server):
    """uvicorn inside the agent: the agent owns the signals (its stop event ends the
    server); uvicorn's own handlers would re-raise SIGTERM at exit and cut the drain short."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_app(
    verifier: TokenVerifier, routers: Sequence[Router], inner: Callable[[ASGIApp], ASGIApp] | None = None
) -> ASGIApp:
    """The gateway's ASGI app: the token check wraps everything, so even a path nobody
    serves says 401 rather than telling an unauthenticated caller what exists."""

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "keys": verifier.keys is not None}

    app = Litestar(
        route_handlers=[healthz, *routers],
        exception_handlers={GatewayError: problem_response},
        debug=False,
        logging_config=None,
        openapi_config=None,
    )
    # the token check first, then (``inner``) the proxy's fast path, then the app's routes
    wrapped: ASGIApp = token_middleware(verifier)(inner(app) if inner else app)
    return wrapped


async def serve(app: ASGIApp, listen: str, verifier: TokenVerifier, js: JetStreamContext, stop: asyncio.Event) -> None:
    host, port = split_listen(listen)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        ws_max_size=64 * 2**20,
        ws_ping_interval=None,
        proxy_headers=False,
        timeout_keep_alive=75,
    )
    server = _Server(config)
    keys = asyncio.create_task(verifier.follow(js, stop))
    serving = asyncio.create_task(server.serve())
    log.info("gateway.listening", listen=listen)
    try:
        await wait_any(stop, timeout=None)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(serving, 10.0)
        keys.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keys
