"""Publish host orders right after the deciding transaction commits, instead of waiting
for the relay to wake up: the outbox row stays the guarantee, this is only the short way.

If the publish fails (or this process dies first) the row is still unpublished and the
relay sends it on its next poll; if both send it, JetStream keeps one (same Nats-Msg-Id).
"""

from __future__ import annotations

import asyncio

import asyncpg
import nats
import structlog
from nats.js import JetStreamContext

from wws_events import CommandEnvelope, encode, subjects
from wws_service import bus, tracing
from wws_store import outbox

log = structlog.get_logger("wws.fastpath")


class FastPath:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext) -> None:
        self.pool = pool
        self.js = js
        self._marks: set[asyncio.Task[None]] = set()

    async def publish(self, orders: list[CommandEnvelope]) -> None:
        for order in orders:
            headers = {subjects.HEADER_COMMAND_TYPE: order.type}
            if tp := tracing.current_traceparent():
                headers[subjects.HEADER_TRACEPARENT] = tp
            try:
                seq, _ = await bus.publish(
                    self.js,
                    subjects.host_commands(order.host_id),
                    encode(order),
                    msg_id=str(order.command_id),
                    headers=headers,
                    attempts=1,
                    timeout=2.0,
                )
            except (nats.errors.Error, OSError) as exc:
                log.warning("fastpath.publish_failed", command_id=str(order.command_id), error=str(exc))
                continue
            task = asyncio.create_task(self._mark(order, seq))
            self._marks.add(task)
            task.add_done_callback(self._marks.discard)

    async def _mark(self, order: CommandEnvelope, seq: int) -> None:
        try:
            async with self.pool.acquire() as conn:
                await outbox.mark_published_by_id(conn, order.command_id, seq)
        except (OSError, asyncpg.PostgresError) as exc:  # the relay will publish (a duplicate) and mark
            log.warning("fastpath.mark_failed", command_id=str(order.command_id), error=str(exc))

    async def drain(self) -> None:
        if self._marks:
            await asyncio.gather(*self._marks, return_exceptions=True)
