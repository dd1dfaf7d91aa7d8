"""Outbox → relay → JetStream, and JetStream → recorder → Postgres, on real servers."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.integration.helpers import agent_event, create, ctx
from wws_api import recorder, relay
from wws_events import decode_command, encode, subjects
from wws_events import workspace as w
from wws_service import bus
from wws_store import eventstore, handler, outbox

pytestmark = pytest.mark.integration


async def _drain(js: JetStreamContext, subject: str) -> list[Msg]:
    sub = await js.pull_subscribe(subject, durable=f"t{uuid.uuid4().hex[:8]}", stream=subjects.CMD_STREAM)
    try:
        return await sub.fetch(batch=100, timeout=1)
    except (nats.errors.TimeoutError, TimeoutError):
        return []


async def test_relay_publishes_pending_orders_once_with_msg_id(pg_pool: asyncpg.Pool, js: JetStreamContext) -> None:
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())
    assert await relay.publish_pending(pg_pool, js) == 1
    assert await relay.publish_pending(pg_pool, js) == 0  # marked sent
    row = await pg_pool.fetchrow("SELECT command_id, published_at, publish_seq FROM wws_commands")
    assert row["published_at"] is not None and row["publish_seq"] == 1
    (msg,) = await _drain(js, subjects.host_commands("h1"))
    assert msg.headers is not None and msg.headers[subjects.HEADER_MSG_ID] == str(row["command_id"])
    order = decode_command(msg.data)
    assert order.workspace_id == ws and order.type == "agent.provision"


async def test_relay_crash_after_publish_before_mark_does_not_duplicate(
    pg_pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    """A relay that dies between the PubAck and its commit publishes again; JetStream
    drops the copy because the Nats-Msg-Id repeats."""
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())

    async with pg_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        (pending,) = await outbox.claim(conn, 10)
        await bus.publish(js, pending.subject, pending.body, msg_id=str(pending.command_id))
        await tx.rollback()  # the crash: published, never marked
    assert await relay.publish_pending(pg_pool, js) == 1  # published again after restart
    msgs = await _drain(js, subjects.host_commands("h1"))
    assert len(msgs) == 1


async def test_recorder_is_idempotent_under_redelivery(pg_pool: asyncpg.Pool, js: JetStreamContext) -> None:
    ws, cmd = create()
    created = await handler.execute(pg_pool, ws, cmd, ctx())
    assert created.state is not None
    event = agent_event(ws, w.WorkspaceProvisionSucceeded(command_id=created.state.last_command_id, generation=1))  # type: ignore[arg-type]
    payload = encode(event)
    # the same event published twice past the duplicate window's protection (different msg ids)
    for n in range(2):
        await js.publish(
            subjects.event_subject("workspace", str(ws)), payload, headers={"Nats-Msg-Id": f"{event.event_id}-{n}"}
        )
    await recorder.ensure_consumer(js)
    sub = await js.pull_subscribe_bind(recorder.DURABLE, stream=subjects.EVT_STREAM)
    msgs = await sub.fetch(batch=10, timeout=2)
    assert len(msgs) == 2
    assert (await recorder.store(pg_pool, msgs))[2] == 1
    # a crash after the commit and before the acks redelivers the batch: a no-op
    assert (await recorder.store(pg_pool, msgs))[2] == 0
    assert await recorder.record(pg_pool, msgs) == 0
    rows = await pg_pool.fetch(
        "SELECT stream_version, event_type FROM wws_events WHERE stream_id = $1 ORDER BY 1", str(ws)
    )
    assert [(r["stream_version"], r["event_type"]) for r in rows] == [
        (1, "workspace.created"),
        (2, "workspace.scheduled"),
        (3, "workspace.provision_succeeded"),
    ]
    state = await handler.load(pg_pool, ws)
    assert state is not None and state.status == "running"


async def test_recorder_keeps_unknown_types_and_dead_letters_garbage(
    pg_pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())
    future = msgspec.json.decode(encode(agent_event(ws, w.WorkspaceRestartStopped(command_id=uuid.uuid4()))))
    future["type"] = "workspace.hibernated"
    future["data"] = {"type": "workspace.hibernated", "snapshot": "s1"}
    await js.publish(subjects.event_subject("workspace", str(ws)), msgspec.json.encode(future))
    await js.publish(subjects.event_subject("workspace", str(ws)), b"{not json")
    await recorder.ensure_consumer(js)
    sub = await js.pull_subscribe_bind(recorder.DURABLE, stream=subjects.EVT_STREAM)
    msgs = await sub.fetch(batch=10, timeout=2)
    assert await recorder.record(pg_pool, msgs) == 1
    stored = await eventstore.read_stream(pg_pool, str(ws))
    assert stored[-1].envelope.type == "workspace.hibernated"
    assert await pg_pool.fetchval("SELECT count(*) FROM wws_dead_letters") == 1
    # the unknown event does not break folding the stream
    state = await handler.load(pg_pool, ws)
    assert state is not None and state.status == "scheduled"
