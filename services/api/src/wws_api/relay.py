"""Outbox relay: publishes pending host orders to JetStream, then marks them sent.

Publish-then-mark inside one transaction: a crash between the two republishes the same
``Nats-Msg-Id``, which JetStream drops inside the duplicate window (10 min).
"""

from __future__ import annotations

import asyncio

import asyncpg
import nats
import structlog
from nats.js import JetStreamContext
from opentelemetry import trace

from wws_events import subjects
from wws_service import bus, tracing
from wws_service.lifecycle import wait_any
from wws_store import outbox

log = structlog.get_logger("wws.relay")
_tracer = tracing.tracer("wws.relay")


async def publish_pending(pool: asyncpg.Pool, js: JetStreamContext, *, batch: int = 100) -> int:
    """Publish one batch; returns how many were published."""
    published = 0
    async with pool.acquire() as conn, conn.transaction():
        for cmd in await outbox.claim(conn, batch):
            with _tracer.start_as_current_span(
                "outbox.publish",
                context=tracing.context_from(cmd.traceparent),
                kind=trace.SpanKind.PRODUCER,
                attributes={"wws.command_id": str(cmd.command_id), "messaging.destination": cmd.subject},
            ):
                headers = {subjects.HEADER_COMMAND_TYPE: cmd.command_type}
                if tp := tracing.current_traceparent():
                    headers[subjects.HEADER_TRACEPARENT] = tp
                try:
                    seq, duplicate = await bus.publish(
                        js, cmd.subject, cmd.body, msg_id=str(cmd.command_id), headers=headers, attempts=2
                    )
                except (nats.errors.Error, OSError) as exc:
                    await outbox.mark_failed(conn, cmd.position, str(exc))
                    log.warning("relay.publish_failed", command_id=str(cmd.command_id), error=str(exc))
                    break
            await outbox.mark_published(conn, cmd.position, seq)
            published += 1
            log.info(
                "relay.published", command_id=str(cmd.command_id), subject=cmd.subject, seq=seq, duplicate=duplicate
            )
    return published


async def run(pool: asyncpg.Pool, js: JetStreamContext, dsn: str, stop: asyncio.Event, *, batch: int = 100) -> None:
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None
    try:
        listener = await asyncpg.connect(dsn)
        await listener.add_listener(outbox.NOTIFY_CHANNEL, lambda *_: wake.set())
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("relay.listen_failed", error=str(exc))
    backoff = 0.0
    try:
        while not stop.is_set():
            wake.clear()
            try:
                while await publish_pending(pool, js, batch=batch) == batch:
                    pass
                backoff = 0.0
            except Exception:
                log.exception("relay.error")
                backoff = min(backoff * 2 or 0.5, 10.0)
            await wait_any(stop, wake, timeout=backoff or 1.0)
    finally:
        if listener is not None:
            await listener.close()
