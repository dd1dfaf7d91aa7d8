"""Reaper: idle workspaces are stopped through the outbox path by ``system:reaper``, with
a deterministic command id, so a restarted reaper never stops twice."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import eventually
from wws_reaper import reaper
from wws_reaper.settings import ReaperSettings
from wws_service.clock import SystemClock

pytestmark = pytest.mark.integration


@pytest.fixture
def api_overrides() -> dict[str, object]:
    return {"activity_interval_s": 0.2, "min_idle_timeout_s": 1}


def _settings(api: InProcessApi, idle: float) -> ReaperSettings:
    return ReaperSettings(database_url=api.settings.database_url, idle_timeout_s=idle, tick_interval_s=0.2)


async def _running(api: InProcessApi, name: str) -> str:
    r = await api.client.post("/api/v1/workspaces?wait=running", json={"name": name})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def _live(api: InProcessApi) -> bool:
    return any(h["status"] == "live" for h in (await api.client.get("/api/v1/hosts")).json()["items"])


async def test_idle_workspace_is_stopped_once_by_the_reaper(api: InProcessApi) -> None:
    pool = api.services.pool
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        ws = await _running(api, "idle")
        settings = _settings(api, idle=3.0)  # long enough that a loaded machine is still "not yet"
        assert await reaper.tick(pool, settings, SystemClock()) == 0  # not idle long enough yet: warned
        warning = await pool.fetchrow("SELECT body FROM wws_events WHERE event_type = 'workspace.idle_warning'")
        assert warning is not None and '"last_signal":"workspace.provision_succeeded"' in warning["body"]
        await asyncio.sleep(3.1)
        assert await reaper.tick(pool, settings, SystemClock()) == 1
        await eventually(lambda: _status(api, ws, "stopped"), what="reaper stop carried out")
        row = await pool.fetchrow(
            "SELECT actor_type, actor_id, reason FROM wws_events WHERE event_type = 'workspace.stop_requested'"
        )
        assert (row["actor_type"], row["actor_id"]) == ("system", "reaper")
        assert row["reason"].startswith("idle for") and "last signal workspace.provision_succeeded" in row["reason"]
        # a second tick, and a "restarted" reaper that replays its projection, decide nothing new
        assert await reaper.tick(pool, settings, SystemClock()) == 0
        await pool.execute(
            "DELETE FROM reaper_workspaces; UPDATE wws_checkpoints SET position = 0 WHERE name = 'reaper'"
        )
        assert await reaper.tick(pool, settings, SystemClock()) == 0
        assert await pool.fetchval("SELECT count(*) FROM wws_commands WHERE command_type = 'agent.stop'") == 1


async def test_a_restarted_reaper_racing_itself_stops_once(api: InProcessApi) -> None:
    pool = api.services.pool
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        await _running(api, "race")
        await asyncio.sleep(0.6)
        settings = _settings(api, idle=0.5)
        assert await reaper.tick(pool, settings, SystemClock()) == 0  # the warning comes first
        results = await asyncio.gather(*(reaper.tick(pool, settings, SystemClock()) for _ in range(3)))
        assert sum(results) == 1
        assert await pool.fetchval("SELECT count(*) FROM wws_events WHERE event_type = 'workspace.stop_requested'") == 1


async def test_activity_keeps_a_workspace_running(api: InProcessApi) -> None:
    pool = api.services.pool
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        ws = await _running(api, "busy")
        settings = _settings(api, idle=4.0)
        await asyncio.sleep(2.5)
        # the first activity report in the minute is recorded as an event
        assert (await api.client.post(f"/api/v1/workspaces/{ws}/activity")).json()["recorded"]
        await asyncio.sleep(2.0)  # 4.5 s since running, 2 s since the activity
        assert await reaper.tick(pool, settings, SystemClock()) == 0
        assert await _status(api, ws, "running")


async def test_a_workspaces_own_idle_timeout_wins_over_the_default(api: InProcessApi) -> None:
    pool = api.services.pool
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        await api.client.post(
            "/api/v1/templates", json={"name": "quick", "image": "localhost/wws-base:bookworm", "idle_timeout_s": 1}
        )
        short = (
            await api.client.post("/api/v1/workspaces?wait=running", json={"name": "short", "template": "quick"})
        ).json()["id"]
        own = (
            await api.client.post(
                "/api/v1/workspaces?wait=running", json={"name": "own", "template": "quick", "idle_timeout_s": 3600}
            )
        ).json()["id"]
        default = await _running(api, "default")
        await asyncio.sleep(1.2)
        assert await reaper.tick(pool, _settings(api, idle=3600), SystemClock()) == 0  # warned
        assert await reaper.tick(pool, _settings(api, idle=3600), SystemClock()) == 1
        views = {str(v.workspace_id): v.idle_timeout_s for v in await reaper.idle_views(pool)}
        assert views in ({short: 1.0, own: 3600.0, default: None}, {own: 3600.0, default: None})
        await eventually(lambda: _status(api, short, "stopped"), what="the template's short timeout applied")
        assert await _status(api, own, "running") and await _status(api, default, "running")


async def _status(api: InProcessApi, ws: str, status: str) -> bool:
    return bool((await api.client.get(f"/api/v1/workspaces/{ws}")).json()["status"] == status)
