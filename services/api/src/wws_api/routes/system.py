"""Health, problem-type documentation."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from wws_api import __version__
from wws_api.access import PUBLIC
from wws_api.problems import TYPES
from wws_api.schemas import Dependency, Health
from wws_api.state import AppServices
from wws_store.projection import checkpoint


@get("/api/v1/health", tags=["system"], summary="Version and reachability of NATS and PostgreSQL", opt=PUBLIC)
async def health(services: NamedDependency[AppServices]) -> Response[Health]:
    t0 = time.perf_counter()
    lag = 0
    try:
        head = await services.pool.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events")
        lag = int(head) - await checkpoint(services.pool, "api_read_model")
        pg = Dependency(ok=True, latency_ms=round((time.perf_counter() - t0) * 1000, 2))
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        pg = Dependency(ok=False, error=type(exc).__name__)
    t1 = time.perf_counter()
    try:
        await services.nc.flush(timeout=2)
        nats = Dependency(ok=services.nc.is_connected, latency_ms=round((time.perf_counter() - t1) * 1000, 2))
    except Exception as exc:  # noqa: BLE001
        nats = Dependency(ok=False, error=type(exc).__name__)
    ok = pg.ok and nats.ok
    body = Health(status="ok" if ok else "degraded", version=__version__, nats=nats, postgres=pg, projection_lag=lag)
    return Response(body, status_code=200 if ok else 503)


@get("/api/v1/problems/{slug:str}", tags=["system"], summary="What a problem type means", opt=PUBLIC)
async def problem_type(slug: FromPath[str]) -> dict[str, object]:
    kind = TYPES.get(slug)
    if kind is None:
        raise NotFoundException(f"no problem type {slug!r}")
    return {
        "type": f"/api/v1/problems/{slug}",
        "title": kind.title,
        "status": kind.status,
        "description": kind.description,
    }


@get("/api/v1/openapi.json", include_in_schema=False, opt=PUBLIC, media_type="application/json")
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document (the UI is at /api/v1/schema/swagger)."""
    return request.app.openapi_schema.to_schema()
