"""Audit projection ``audit_log``: every event, flat and indexed, with a summary."""

from __future__ import annotations

import uuid

import msgspec

from wws_audit.summary import summarize
from wws_events import RawEnvelope
from wws_store.db import Conn
from wws_store.eventstore import StoredEvent


def _workspace(stream_type: str, stream_id: str) -> uuid.UUID | None:
    if stream_type not in ("workspace", "activity"):
        return None
    try:
        return uuid.UUID(stream_id.removeprefix("activity-"))
    except ValueError:
        return None


class AuditProjection:
    name: str = "audit_log"
    tables: tuple[str, ...] = ("audit_log",)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        env = event.envelope
        data = env.data if isinstance(env, RawEnvelope) else msgspec.json.encode(env.data)
        await conn.execute(
            """INSERT INTO audit_log (position, event_id, event_type, stream_type, stream_id, workspace_id, org_id,
                   actor_type, actor_id, source_ip, host_id, outcome, reason, occurred_at, recorded_at, correlation_id,
                   summary, data)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::inet, $11, $12, $13, $14, $15, $16, $17, $18::jsonb)
               ON CONFLICT (position) DO NOTHING""",
            event.position,
            env.event_id,
            env.type,
            env.stream_type,
            env.stream_id,
            _workspace(env.stream_type, env.stream_id),
            env.org_id,
            env.actor.type,
            env.actor.id,
            env.actor.ip,
            env.host_id,
            env.outcome,
            env.reason,
            env.occurred_at,
            event.recorded_at,
            env.correlation_id,
            summarize(env),
            bytes(data).decode(),
        )
