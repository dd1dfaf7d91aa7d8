"""``GET /workspaces/{id}/events``: a workspace's events as Server-Sent Events, from the
log (the workspace's stream, its activity and the reaper's warnings), resumable with
``Last-Event-ID`` (the log position). A comment line every 15 s keeps proxies from
closing a quiet stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
from litestar.response import ServerSentEventMessage

from wws_api.waiter import ReadModelWaiter
from wws_events import decode_event
from wws_service.clock import Clock

KEEPALIVE_S = 15.0
BATCH = 200


async def stream(
    pool: asyncpg.Pool, waiter: ReadModelWaiter, clock: Clock, workspace_id: uuid.UUID, after: int
) -> AsyncIterator[ServerSentEventMessage]:
    streams = [str(workspace_id), f"activity-{workspace_id}"]
    position = after
    while True:
        rows = await pool.fetch(
            """SELECT global_position, event_type, body FROM wws_events
               WHERE stream_id = ANY($1::text[]) AND global_position > $2 ORDER BY global_position LIMIT $3""",
            streams,
            position,
            BATCH,
        )
        for r in rows:
            position = r["global_position"]
            env = decode_event(r["body"])
            payload = {
                "position": position,
                "type": r["event_type"],
                "occurred_at": env.occurred_at.isoformat(),
                "actor": str(env.actor),
                "outcome": env.outcome,
                "data": msgspec.json.decode(msgspec.json.encode(env.data)),
            }
            yield ServerSentEventMessage(
                data=msgspec.json.encode(payload).decode(), event=r["event_type"], id=str(position)
            )
        if len(rows) == BATCH:
            continue
        if not await waiter.changed(KEEPALIVE_S):
            yield ServerSentEventMessage(data=None, comment=f"keep-alive {clock.now().isoformat()}")
