"""``wws-api``: serve the API (with its workers), apply migrations, manage projections."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from wws_api.app import create_app
from wws_api.readmodel import ReadModel
from wws_api.settings import ApiSettings
from wws_service import logging as wlog
from wws_service import tracing
from wws_service.settings import ConfigError, load_settings
from wws_store import db, projection


async def _migrate(dsn: str) -> None:
    async with db.pool(dsn, max_size=1) as pool, pool.acquire() as conn:
        applied = await db.migrate(conn)
    print("applied: " + (", ".join(applied) or "nothing (up to date)"))


async def _rebuild(dsn: str) -> None:
    async with db.pool(dsn, max_size=2) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        n = await projection.rebuild(pool, ReadModel())
    print(f"api_read_model rebuilt from position 0: {n} events applied")


async def _status(dsn: str) -> None:
    async with db.pool(dsn, max_size=1) as pool:
        head = await pool.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events")
        for row in await pool.fetch("SELECT name, position, updated_at FROM wws_checkpoints ORDER BY name"):
            print(
                f"{row['name']:<20} position {row['position']:>8}  lag {head - row['position']:>6}  updated {row['updated_at']:%Y-%m-%d %H:%M:%S}"
            )
        print(f"{'(head)':<20} position {head:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wws-api", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the HTTP API and its background workers")
    sub.add_parser("migrate", help="apply pending database migrations")
    proj = sub.add_parser("projections", help="inspect or rebuild projections")
    proj.add_argument("action", choices=["rebuild", "status"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ApiSettings, service="api")
    except ConfigError as exc:
        print(f"wws-api: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "migrate":
        asyncio.run(_migrate(settings.database_url))
        return 0
    if args.cmd == "projections":
        asyncio.run(_rebuild(settings.database_url) if args.action == "rebuild" else _status(settings.database_url))
        return 0
    wlog.configure(service="api", level=settings.log_level, fmt=settings.log_format)
    tracing.configure(service="api", exporter=settings.otel_exporter, endpoint=settings.otel_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
