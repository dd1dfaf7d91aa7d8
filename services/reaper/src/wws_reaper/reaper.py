"""The idle stop loop: find due workspaces, stop them through the outbox path."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import structlog

from wws_events import SYSTEM_REAPER, DomainError
from wws_events import commands as c
from wws_reaper.policy import IdleStop, IdleView, IdleWarning, due, warnings
from wws_reaper.projection import ReaperProjection
from wws_reaper.settings import ReaperSettings
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any
from wws_store import handler, projection
from wws_store.errors import ConcurrencyError

log = structlog.get_logger("wws.reaper")


async def idle_views(pool: asyncpg.Pool) -> list[IdleView]:
    rows = await pool.fetch(
        """SELECT workspace_id, status, last_activity_at, last_signal, warned_for,
                  (state->'spec'->>'idle_timeout_s')::float8 AS idle_timeout_s
           FROM reaper_workspaces WHERE status = 'running'"""
    )
    return [
        IdleView(
            workspace_id=r["workspace_id"],
            status=r["status"],
            last_activity_at=r["last_activity_at"],
            last_signal=r["last_signal"],
            idle_timeout_s=r["idle_timeout_s"],
            warned_for=r["warned_for"],
        )
        for r in rows
    ]


async def stop_idle(pool: asyncpg.Pool, stop: IdleStop, settings: ReaperSettings, clock: Clock) -> bool:
    """Issue one idle stop; False when it was already issued or no longer applies."""
    now = clock.now()
    ctx = handler.CommandContext(
        command_id=stop.command_id,
        actor=SYSTEM_REAPER,
        org_id=settings.org_id,
        now=now,
        deadline=now + timedelta(seconds=settings.operation_timeout_s),
    )
    try:
        result = await handler.execute(pool, stop.workspace_id, c.StopWorkspace(reason=stop.reason), ctx)
    except (DomainError, ConcurrencyError) as exc:
        log.info("reaper.skip", workspace_id=str(stop.workspace_id), reason=str(exc))
        return False
    if result.replayed:
        return False
    log.info("reaper.stopped", workspace_id=str(stop.workspace_id), reason=stop.reason, command_id=str(stop.command_id))
    return True


async def warn_idle(pool: asyncpg.Pool, warning: IdleWarning, settings: ReaperSettings, clock: Clock) -> bool:
    """Record one warning (the event feed shows it); False when already recorded."""
    now = clock.now()
    ctx = handler.CommandContext(
        command_id=warning.command_id, actor=SYSTEM_REAPER, org_id=settings.org_id, now=now, deadline=now
    )
    command = c.WarnIdle(idle_since=warning.idle_since, stop_at=warning.stop_at, last_signal=warning.last_signal)
    try:
        result = await handler.execute(pool, warning.workspace_id, command, ctx)
    except (DomainError, ConcurrencyError) as exc:
        log.info("reaper.warn_skip", workspace_id=str(warning.workspace_id), reason=str(exc))
        return False
    if not result.replayed:
        log.info("reaper.warned", workspace_id=str(warning.workspace_id), stop_at=warning.stop_at.isoformat())
    return not result.replayed


async def tick(pool: asyncpg.Pool, settings: ReaperSettings, clock: Clock) -> int:
    """Warn what is about to be stopped, stop what was warned and is idle past its timeout;
    returns how many were stopped. Everything is decided from the log, so a replay decides
    the same."""
    await projection.catch_up(pool, ReaperProjection())
    timeout = timedelta(seconds=settings.idle_timeout_s)
    views = await idle_views(pool)
    stopped = 0
    for item in due(views, clock.now(), timeout):
        stopped += await stop_idle(pool, item, settings, clock)
    for warning in warnings(views, clock.now(), timeout, timedelta(seconds=settings.warn_before_s)):
        await warn_idle(pool, warning, settings, clock)
    return stopped


async def run(pool: asyncpg.Pool, settings: ReaperSettings, clock: Clock, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await tick(pool, settings, clock)
        except Exception:
            log.exception("reaper.tick_failed")
        await wait_any(stop, timeout=settings.tick_interval_s)
