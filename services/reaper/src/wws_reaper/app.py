"""``wws-reaper``: keeps its projection at the head of the log and stops idle workspaces."""

from __future__ import annotations

import asyncio
import sys

import structlog

from wws_reaper import __version__, reaper
from wws_reaper.projection import ReaperProjection
from wws_reaper.settings import ReaperSettings
from wws_service import logging as wlog
from wws_service import tracing
from wws_service.clock import Clock, SystemClock
from wws_service.lifecycle import run_until_signalled
from wws_service.settings import ConfigError, load_settings
from wws_store import db, projection

log = structlog.get_logger("wws.reaper")


async def run(settings: ReaperSettings, stop: asyncio.Event, *, clock: Clock | None = None) -> None:
    clk = clock or SystemClock()
    async with db.pool(settings.database_url, max_size=4) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        log.info("reaper.started", idle_timeout_s=settings.idle_timeout_s, version=__version__)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(projection.run(pool, ReaperProjection(), stop, dsn=settings.database_url))
            tg.create_task(reaper.run(pool, settings, clk, stop))


def main() -> int:
    try:
        settings = load_settings(ReaperSettings, service="reaper")
    except ConfigError as exc:
        print(f"wws-reaper: {exc}", file=sys.stderr)  # noqa: T201 - before logging exists
        return 2
    wlog.configure(service="reaper", level=settings.log_level, fmt=settings.log_format)
    tracing.configure(
        service="reaper", exporter=settings.otel_exporter, endpoint=settings.otel_endpoint, version=__version__
    )
    asyncio.run(run_until_signalled(lambda stop: run(settings, stop)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
