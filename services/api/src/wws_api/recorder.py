"""Event recorder: copies agent events from ``WWS_EVT`` into ``wws_events``.

Per batch: one transaction under the append lock (extends the hash chain), commit, then
ack. A redelivered event finds its ``event_id`` stored and is skipped, so recording is
exactly-once even though delivery is at-least-once.
"""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import nats
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from wws_api.readmodel import READ_MODEL
from wws_events import RawEnvelope, decode_raw_event, subjects
from wws_service import tracing
from wws_store import eventstore, projection

log = structlog.get_logger("wws.recorder")
_tracer = tracing.tracer("wws.recorder")

DURABLE = "pg-recorder"


async def ensure_consumer(js: JetStreamContext) -> None:
    await js.add_consumer(
        subjects.EVT_STREAM,
        ConsumerConfig(
            durable_name=DURABLE,
            filter_subject=subjects.EVT_SUBJECTS,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=1000,
        ),
    )


async def record(pool: asyncpg.Pool, msgs: list[Msg]) -> int:
    """Append a batch, commit, then ack; returns how many new events were stored."""
    good, poison, stored = await store(pool, msgs)
    for msg, env in good:
        with _tracer.start_as_current_span(
            "recorder.record", context=tracing.context_from(env.traceparent), attributes={"wws.event_type": env.type}
        ):
            await msg.ack()
    for msg, error in poison:
        log.error("recorder.dead_letter", subject=msg.subject, error=error)
        await msg.term()
    if stored:
        log.info("recorder.stored", count=stored)
    return stored


async def store(
    pool: asyncpg.Pool, msgs: list[Msg]
) -> tuple[list[tuple[Msg, RawEnvelope]], list[tuple[Msg, str]], int]:
    """The transactional half of ``record``: dead-letter what cannot be decoded, append the
    rest under the chain lock. Safe to repeat for the same messages (a redelivery)."""
    good: list[tuple[Msg, RawEnvelope]] = []
    poison: list[tuple[Msg, str]] = []
    for msg in msgs:
        try:
            good.append((msg, decode_raw_event(msg.data)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            poison.append((msg, str(exc)))
    async with pool.acquire() as conn, conn.transaction():
        for msg, error in poison:
            await conn.execute(
                "INSERT INTO wws_dead_letters (subject, stream_seq, payload, error) VALUES ($1, $2, $3, $4)",
                msg.subject,
                msg.metadata.sequence.stream,
                msg.data,
                error,
            )
        stored = await eventstore.append(
            conn, [env for _, env in good], nats_seqs=[m.metadata.sequence.stream for m, _ in good]
        )
        await projection.apply_inline(conn, READ_MODEL, stored)
    return good, poison, len(stored)


async def run(pool: asyncpg.Pool, js: JetStreamContext, stop: asyncio.Event, *, batch: int = 100) -> None:
    await ensure_consumer(js)
    sub = await js.pull_subscribe_bind(DURABLE, stream=subjects.EVT_STREAM)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch=batch, timeout=1.0)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        except nats.errors.Error as exc:
            log.warning("recorder.fetch_failed", error=str(exc))
            await asyncio.sleep(1.0)
            continue
        try:
            await record(pool, msgs)
        except Exception:
            log.exception("recorder.batch_failed", size=len(msgs))
            await asyncio.sleep(1.0)
    await sub.unsubscribe()
