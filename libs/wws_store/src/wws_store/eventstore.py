"""Appending to and reading from ``wws_events``.

Every append takes one transaction-scoped advisory lock, so appends are serialized:
commit order equals position order (readers may use ``position > checkpoint`` safely)
and the hash chain is a total order.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from wws_events import Envelope, RawEnvelope, decode_event, encode, typed_event
from wws_store.db import Conn, Executor
from wws_store.errors import ConcurrencyError

APPEND_LOCK = 0x5757_0002
GENESIS = b"\x00" * 32
NOTIFY_CHANNEL = "wws_events"


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    recorded_at: datetime
    envelope: Envelope | RawEnvelope
    source_ip: str | None = None


def chain_hash(prev: bytes, body: bytes) -> bytes:
    return hashlib.sha256(prev + body).digest()


def _workspace_id(env: Envelope | RawEnvelope) -> uuid.UUID | None:
    if env.stream_type in ("workspace", "activity"):
        try:
            return uuid.UUID(env.stream_id.removeprefix("activity-"))
        except ValueError:
            return None
    return None


_INSERT = """
INSERT INTO wws_events (event_id, event_type, schema_version, stream_type, stream_id, stream_version,
    occurred_at, org_id, actor_type, actor_id, source_ip, host_id, outcome, reason, correlation_id,
    causation_id, workspace_id, body, data, nats_stream_seq, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::inet, $12, $13, $14, $15, $16, $17, $18::text,
    ($18::text)::jsonb -> 'data', $19, $20, $21)
"""


async def append(
    conn: Conn,
    envelopes: Sequence[Envelope | RawEnvelope],
    *,
    nats_seqs: Sequence[int | None] | None = None,
) -> list[StoredEvent]:
    """Append inside the caller's transaction. An envelope with ``stream_version`` set
    must be exactly next in its stream (else ``ConcurrencyError``); one without gets the
    next version. Events whose id is already stored are skipped (idempotent redelivery).
    Returns the events actually stored, with their positions."""
    if not envelopes:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
    head = await conn.fetchval("SELECT hash FROM wws_events ORDER BY global_position DESC LIMIT 1")
    prev: bytes = head if head is not None else GENESIS
    ids = [e.event_id for e in envelopes]
    existing = {
        r["event_id"] for r in await conn.fetch("SELECT event_id FROM wws_events WHERE event_id = ANY($1::uuid[])", ids)
    }
    streams = list({e.stream_id for e in envelopes})
    versions: dict[str, int] = {
        r["stream_id"]: r["v"]
        for r in await conn.fetch(
            "SELECT stream_id, max(stream_version) AS v FROM wws_events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id",
            streams,
        )
    }
    rows = []
    kept: list[Envelope | RawEnvelope] = []
    for i, env in enumerate(envelopes):
        if env.event_id in existing:
            continue
        existing.add(env.event_id)
        current = versions.get(env.stream_id, 0)
        if env.stream_version is None:
            env = msgspec.structs.replace(env, stream_version=current + 1)
        elif env.stream_version != current + 1:
            raise ConcurrencyError(env.stream_id, env.stream_version - 1, current)
        assert env.stream_version is not None
        versions[env.stream_id] = env.stream_version
        body = encode(env)
        digest = chain_hash(prev, body)
        rows.append(
            (
                env.event_id,
                env.type,
                env.schema_version,
                env.stream_type,
                env.stream_id,
                env.stream_version,
                env.occurred_at,
                env.org_id,
                env.actor.type,
                env.actor.id,
                env.actor.ip,
                env.host_id,
                env.outcome,
                env.reason,
                env.correlation_id,
                env.causation_id,
                _workspace_id(env),
                body.decode(),
                nats_seqs[i] if nats_seqs else None,
                prev,
                digest,
            )
        )
        kept.append(env)
        prev = digest
    if not rows:
        return []
    await conn.executemany(_INSERT, rows)
    stored = await conn.fetch(
        "SELECT global_position, recorded_at, event_id FROM wws_events WHERE event_id = ANY($1::uuid[]) ORDER BY global_position",
        [e.event_id for e in kept],
    )
    by_id = {r["event_id"]: r for r in stored}
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(stored[-1]["global_position"]))
    return [
        StoredEvent(
            position=by_id[e.event_id]["global_position"],
            recorded_at=by_id[e.event_id]["recorded_at"],
            envelope=typed_event(e) if isinstance(e, RawEnvelope) else e,  # as a reader would see it
            source_ip=e.actor.ip,
        )
        for e in kept
    ]


def _stored(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        position=row["global_position"],
        recorded_at=row["recorded_at"],
        envelope=decode_event(row["body"]),
        source_ip=str(row["source_ip"]) if row["source_ip"] is not None else None,
    )


async def read_stream(conn: Executor, stream_id: str, *, after_version: int = 0) -> list[StoredEvent]:
    rows = await conn.fetch(
        """SELECT global_position, recorded_at, body, source_ip FROM wws_events
           WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version""",
        stream_id,
        after_version,
    )
    return [_stored(r) for r in rows]


async def any_exists(conn: Executor, event_ids: list[uuid.UUID]) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM wws_events WHERE event_id = ANY($1::uuid[]))", event_ids)
    )


async def read_all(conn: Executor, *, after: int, limit: int = 500, up_to: int | None = None) -> list[StoredEvent]:
    rows = await conn.fetch(
        """SELECT global_position, recorded_at, body, source_ip FROM wws_events
           WHERE global_position > $1 AND ($3::bigint IS NULL OR global_position <= $3)
           ORDER BY global_position LIMIT $2""",
        after,
        limit,
        up_to,
    )
    return [_stored(r) for r in rows]


async def head_position(conn: Executor) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events"))
