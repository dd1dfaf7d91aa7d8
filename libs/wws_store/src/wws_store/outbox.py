"""The command outbox: rows written with the deciding events, published by the relay."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from wws_events import CommandEnvelope, encode, subjects
from wws_store.db import Conn, Executor

NOTIFY_CHANNEL = "wws_outbox"


class PendingCommand(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    command_id: uuid.UUID
    subject: str
    body: bytes
    traceparent: str | None
    command_type: str
    attempts: int


async def enqueue(conn: Conn, command: CommandEnvelope, *, wake_relay: bool = True) -> bool:
    """Add ``command`` inside the caller's transaction; False if its id is already there.
    ``wake_relay=False`` when the caller publishes it itself right after commit (the relay
    still finds it on its next poll if that publish never happens)."""
    status: str = await conn.execute(
        """INSERT INTO wws_commands (command_id, command_type, workspace_id, host_id, subject, body, traceparent, deadline)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (command_id) DO NOTHING""",
        command.command_id,
        command.type,
        command.workspace_id,
        command.host_id,
        subjects.host_commands(command.host_id),
        encode(command).decode(),
        command.traceparent,
        command.deadline,
    )
    if wake_relay:
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return status.endswith(" 1")


async def claim(conn: Conn, limit: int) -> list[PendingCommand]:
    """Lock up to ``limit`` unpublished rows (another relay skips them). Call in a transaction."""
    rows = await conn.fetch(
        """SELECT position, command_id, subject, body, traceparent, command_type, attempts FROM wws_commands
           WHERE published_at IS NULL ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [
        PendingCommand(
            position=r["position"],
            command_id=r["command_id"],
            subject=r["subject"],
            body=r["body"].encode(),
            traceparent=r["traceparent"],
            command_type=r["command_type"],
            attempts=r["attempts"],
        )
        for r in rows
    ]


async def mark_published(conn: Conn, position: int, seq: int) -> None:
    await conn.execute(
        "UPDATE wws_commands SET published_at = clock_timestamp(), publish_seq = $2, attempts = attempts + 1 WHERE position = $1",
        position,
        seq,
    )


async def mark_failed(conn: Conn, position: int, error: str) -> None:
    await conn.execute(
        "UPDATE wws_commands SET attempts = attempts + 1, last_error = $2 WHERE position = $1", position, error[:500]
    )


async def overdue(conn: Executor, now: datetime, limit: int = 100) -> list[asyncpg.Record]:
    """Commands past their deadline, newest per workspace (the supervisor's input)."""
    return list(
        await conn.fetch(
            """SELECT DISTINCT ON (workspace_id) workspace_id, command_id, deadline FROM wws_commands
               WHERE deadline < $1 ORDER BY workspace_id, position DESC LIMIT $2""",
            now,
            limit,
        )
    )


async def mark_published_by_id(conn: Conn, command_id: uuid.UUID, seq: int) -> None:
    """Mark after a fast-path publish. Asynchronous commit: losing this mark in a crash
    only makes the relay publish again, which JetStream drops as a duplicate."""
    async with conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.execute(
            """UPDATE wws_commands SET published_at = clock_timestamp(), publish_seq = $2, attempts = attempts + 1
               WHERE command_id = $1 AND published_at IS NULL""",
            command_id,
            seq,
        )
