"""Projection runner: reads ``wws_events`` in position order and applies each event to
a projection's tables, storing the position in the same transaction (exactly-once apply).

The checkpoint row is locked ``FOR UPDATE`` per batch, which also keeps two runners of
the same projection from interleaving.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import asyncpg
import structlog

from wws_service.lifecycle import wait_any
from wws_store import eventstore
from wws_store.db import Conn, Executor
from wws_store.eventstore import StoredEvent

log = structlog.get_logger("wws.projection")


class Projection(Protocol):
    """A read model built from the log. ``apply`` must be deterministic in the event."""

    name: str
    tables: tuple[str, ...]
    """Tables the projection owns; a rebuild empties them."""

    async def apply(self, conn: Conn, event: StoredEvent) -> None: ...


async def checkpoint(conn: Executor, name: str) -> int:
    value = await conn.fetchval("SELECT position FROM wws_checkpoints WHERE name = $1", name)
    return int(value or 0)


async def step(pool: asyncpg.Pool, projection: Projection, *, batch: int = 500) -> int:
    """Apply the next batch; returns how many events were applied (0 = caught up)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO wws_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", projection.name
        )
        pos = await conn.fetchval("SELECT position FROM wws_checkpoints WHERE name = $1 FOR UPDATE", projection.name)
        events = await eventstore.read_all(conn, after=pos, limit=batch)
        for event in events:
            await projection.apply(conn, event)
        if events:
            await conn.execute(
                "UPDATE wws_checkpoints SET position = $2, updated_at = clock_timestamp() WHERE name = $1",
                projection.name,
                events[-1].position,
            )
            await conn.execute("SELECT pg_notify('wws_projection', $1)", f"{projection.name}:{events[-1].position}")
        return len(events)


async def apply_inline(conn: Conn, projection: Projection, stored: list[StoredEvent]) -> bool:
    """Apply freshly appended events in the appending transaction, when the projection is
    caught up to just before them; otherwise leave them to the runner.

    Call with the append lock held (inside ``eventstore.append``'s transaction): no other
    event can be appended in between, so "caught up" cannot change under us. Never waits:
    a runner in the middle of a batch holds the checkpoint row, and then we skip."""
    if not stored:
        return False
    pos = await conn.fetchval(
        "SELECT position FROM wws_checkpoints WHERE name = $1 FOR UPDATE SKIP LOCKED", projection.name
    )
    if pos is None:
        return False
    behind = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM wws_events WHERE global_position > $1 AND global_position < $2)",
        pos,
        stored[0].position,
    )
    if behind:
        return False
    for event in stored:
        await projection.apply(conn, event)
    await conn.execute(
        "UPDATE wws_checkpoints SET position = $2, updated_at = clock_timestamp() WHERE name = $1",
        projection.name,
        stored[-1].position,
    )
    await conn.execute("SELECT pg_notify('wws_projection', $1)", f"{projection.name}:{stored[-1].position}")
    return True


async def catch_up_in(conn: Conn, projection: Projection, *, batch: int = 500) -> int:
    """Bring ``projection`` to the head of the log inside the caller's transaction.

    With the append lock held this makes the projection exact for the rest of the
    transaction (nothing can be appended in between); it waits for a runner that is in the
    middle of a batch (runners never take the append lock, so this cannot deadlock)."""
    await conn.execute(
        "INSERT INTO wws_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", projection.name
    )
    pos = await conn.fetchval("SELECT position FROM wws_checkpoints WHERE name = $1 FOR UPDATE", projection.name)
    total = 0
    while events := await eventstore.read_all(conn, after=pos, limit=batch):
        for event in events:
            await projection.apply(conn, event)
        pos = events[-1].position
        total += len(events)
    if total:
        await conn.execute(
            "UPDATE wws_checkpoints SET position = $2, updated_at = clock_timestamp() WHERE name = $1",
            projection.name,
            pos,
        )
        await conn.execute("SELECT pg_notify('wws_projection', $1)", f"{projection.name}:{pos}")
    return total


async def catch_up(pool: asyncpg.Pool, projection: Projection, *, batch: int = 500) -> int:
    total = 0
    while n := await step(pool, projection, batch=batch):
        total += n
    return total


async def rebuild(pool: asyncpg.Pool, projection: Projection) -> int:
    """Empty the projection's tables, reset its checkpoint, replay the log from 0."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO wws_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", projection.name
        )
        await conn.fetchval("SELECT position FROM wws_checkpoints WHERE name = $1 FOR UPDATE", projection.name)
        for table in projection.tables:
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are code constants
        await conn.execute("UPDATE wws_checkpoints SET position = 0 WHERE name = $1", projection.name)
    return await catch_up(pool, projection)


async def run(
    pool: asyncpg.Pool,
    projection: Projection,
    stop: asyncio.Event,
    *,
    dsn: str | None = None,
    poll_interval: float = 1.0,
    batch: int = 500,
) -> None:
    """Keep ``projection`` at the head of the log until ``stop``. Wakes on NOTIFY from
    appends; polls every ``poll_interval`` as a safety net (NOTIFY is a hint, not truth)."""
    wake = asyncio.Event()
    listener: Conn | None = None

    def _notified(*_: object) -> None:
        wake.set()

    try:
        listener = await asyncpg.connect(dsn) if dsn else None
        if listener is not None:
            await listener.add_listener(eventstore.NOTIFY_CHANNEL, _notified)
    except (OSError, asyncpg.PostgresError) as exc:  # listening is an optimisation only
        log.warning("projection.listen_failed", projection=projection.name, error=str(exc))
        listener = None
    try:
        while not stop.is_set():
            try:
                while await step(pool, projection, batch=batch):
                    if stop.is_set():
                        return
            except Exception:
                log.exception("projection.step_failed", projection=projection.name)
            wake.clear()
            await wait_any(stop, wake, timeout=poll_interval)
    finally:
        if listener is not None:
            await listener.close()
