"""Connection pool and versioned migrations (applied at start, serialized by a lock)."""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog

from wws_store.errors import MigrationError

log = structlog.get_logger("wws.store")

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A connection, bare or borrowed from a pool."""
Executor = Conn | asyncpg.Pool
"""Anything that can run a query."""

MIGRATION_LOCK = 0x5757_0001  # any constant shared by every WWS process


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. WWS keeps no session state
    on pooled connections (advisory locks and settings are transaction-scoped, LISTEN has
    connections of its own), so asyncpg's default reset (UNLISTEN, RESET ALL, unlock all,
    CLOSE ALL) would only cost a round trip after every query."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


@asynccontextmanager
async def pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60, reset=_reset)
    try:
        yield p
    finally:
        await p.close()


def _migrations() -> list[tuple[int, str, str]]:
    root = importlib.resources.files("wws_store") / "migrations"
    found = []
    for entry in root.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: Conn) -> list[str]:
    """Apply pending migrations in order; refuse if an applied file was changed."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS wws_schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"""
        )
        done = {
            r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM wws_schema_migrations")
        }
        for version, name, sql in _migrations():
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise MigrationError(f"migration {name} was changed after it was applied")
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO wws_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version,
                name,
                checksum,
            )
            applied_now.append(name)
    if applied_now:
        log.info("store.migrated", applied=applied_now)
    return applied_now
