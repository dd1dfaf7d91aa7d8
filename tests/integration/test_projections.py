"""Projections are folds of the log: a rebuild from position 0 gives tables identical to
the live ones (API read model, reaper, audit)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import eventually
from wws_api.readmodel import ReadModel
from wws_audit.projection import AuditProjection
from wws_reaper.projection import ReaperProjection
from wws_store import projection
from wws_store.projection import Projection

pytestmark = pytest.mark.integration


@pytest.fixture
def api_overrides() -> dict[str, object]:
    # no host.lost may arrive while the tables are compared
    return {"host_ttl_s": 3600.0}


TABLES = {
    "api_read_model": ("api_workspaces ORDER BY workspace_id", "api_hosts ORDER BY host_id"),
    "reaper": ("reaper_workspaces ORDER BY workspace_id",),
    "audit_log": ("audit_log ORDER BY position",),
}


async def _dump(pool: asyncpg.Pool, name: str) -> list[list[tuple[object, ...]]]:
    return [[tuple(r) for r in await pool.fetch(f"SELECT * FROM {q}")] for q in TABLES[name]]  # noqa: S608


async def _busy_history(api: InProcessApi) -> None:
    c = api.client
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        ids = []
        for i in range(3):
            r = await c.post("/api/v1/workspaces?wait=running", json={"name": f"p{i}"})
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        await c.post(f"/api/v1/workspaces/{ids[0]}/stop?wait=stopped")
        await c.post(f"/api/v1/workspaces/{ids[0]}/start?wait=running")
        await c.post(f"/api/v1/workspaces/{ids[1]}/rebuild?wait=running")
        await c.post(f"/api/v1/workspaces/{ids[1]}/activity")
        await c.post(f"/api/v1/workspaces/{ids[2]}/restart?wait=running")
        await c.delete(f"/api/v1/workspaces/{ids[2]}?wait=deleted")
        await c.post("/api/v1/workspaces", json={"name": "never-placed", "host": "h1", "memory_mb": 10_000_000 // 1024})


async def _live(api: InProcessApi) -> bool:
    return any(h["status"] == "live" for h in (await api.client.get("/api/v1/hosts")).json()["items"])


@pytest.mark.parametrize("proj", [ReadModel(), ReaperProjection(), AuditProjection()], ids=lambda p: p.name)
async def test_rebuild_from_zero_equals_the_live_tables(api: InProcessApi, proj: Projection) -> None:
    await _busy_history(api)
    pool = api.services.pool
    await _quiet(pool)
    await projection.catch_up(pool, proj)
    head = await pool.fetchval("SELECT max(global_position) FROM wws_events")
    await eventually(lambda: _caught_up(pool, proj.name, head))
    live = await _dump(pool, proj.name)
    assert any(live), "the history produced rows"
    # the API's own runner may replay part of it concurrently; either way the result is one fold
    await projection.rebuild(pool, proj)
    assert await projection.checkpoint(pool, proj.name) == head
    assert await _dump(pool, proj.name) == live


async def _quiet(pool: asyncpg.Pool, still_s: float = 1.5, at_most_s: float = 20.0) -> None:
    """Until the log stops growing: the host leaving at the end of the history is recorded
    a moment later (the supervisor sees its heartbeat go), and must not land between the
    head read here and the rebuild."""
    last, since = None, asyncio.get_running_loop().time()
    deadline = since + at_most_s
    while asyncio.get_running_loop().time() < deadline:
        head = await pool.fetchval("SELECT max(global_position) FROM wws_events")
        now = asyncio.get_running_loop().time()
        if head != last:
            last, since = head, now
        elif now - since >= still_s:
            return
        await asyncio.sleep(0.1)


async def _caught_up(pool: asyncpg.Pool, name: str, head: int) -> bool:
    return bool(await projection.checkpoint(pool, name) >= head)
