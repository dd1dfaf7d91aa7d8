"""The event store on real PostgreSQL: append-only, optimistic concurrency, idempotent
appends, a hash chain over the exact stored bytes."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import msgspec
import pytest

from tests.integration.helpers import agent_event, create, ctx
from wws_events import InvalidTransition, decode_event
from wws_events import commands as c
from wws_events import workspace as w
from wws_store import eventstore, handler
from wws_store.errors import ConcurrencyError, NameTaken

pytestmark = pytest.mark.integration


async def test_events_and_order_are_written_in_one_transaction(pg_pool: asyncpg.Pool) -> None:
    """Create decides two events and one host order; all three land together."""
    ws, cmd = create()
    result = await handler.execute(pg_pool, ws, cmd, ctx())
    assert [e.envelope.type for e in result.stored] == ["workspace.created", "workspace.scheduled"]
    rows = await pg_pool.fetch("SELECT command_type, host_id, subject FROM wws_commands WHERE workspace_id = $1", ws)
    assert [tuple(r) for r in rows] == [("agent.provision", "h1", "wws.cmd.host.h1")]


async def test_a_failed_decision_writes_nothing(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())
    before = await eventstore.head_position(pg_pool)
    with pytest.raises(InvalidTransition):
        await handler.execute(pg_pool, ws, c.StartWorkspace(), ctx())  # scheduled, not stopped
    assert await eventstore.head_position(pg_pool) == before
    assert await pg_pool.fetchval("SELECT count(*) FROM wws_commands WHERE workspace_id = $1", ws) == 1


async def test_updates_deletes_and_truncates_are_refused(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())
    for sql in ("UPDATE wws_events SET actor_id = 'mallory'", "DELETE FROM wws_events", "TRUNCATE wws_events"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pg_pool.execute(sql)


async def test_stale_expected_version_is_a_concurrency_error(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create()
    result = await handler.execute(pg_pool, ws, cmd, ctx())
    stale = result.stored[0].envelope  # version 1 again
    async with pg_pool.acquire() as conn, conn.transaction():
        with pytest.raises(ConcurrencyError):
            await eventstore.append(conn, [msgspec.structs.replace(stale, event_id=uuid.uuid4())])


async def test_same_event_id_twice_is_stored_once(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create()
    await handler.execute(pg_pool, ws, cmd, ctx())
    env = agent_event(ws, w.WorkspaceOperationStarted(command_id=uuid.uuid4(), operation="provision"))
    async with pg_pool.acquire() as conn, conn.transaction():
        first = await eventstore.append(conn, [env])
    async with pg_pool.acquire() as conn, conn.transaction():
        second = await eventstore.append(conn, [env, env])
    assert len(first) == 1 and second == []
    assert await pg_pool.fetchval("SELECT count(*) FROM wws_events WHERE event_id = $1", env.event_id) == 1


async def test_hash_chain_covers_the_exact_stored_bytes(pg_pool: asyncpg.Pool) -> None:
    for i in range(3):
        ws, cmd = create(name=f"w{i}")
        await handler.execute(pg_pool, ws, cmd, ctx())
    rows = await pg_pool.fetch("SELECT prev_hash, hash, body FROM wws_events ORDER BY global_position")
    prev = eventstore.GENESIS
    for r in rows:
        assert bytes(r["prev_hash"]) == prev
        assert bytes(r["hash"]) == hashlib.sha256(prev + r["body"].encode()).digest()
        decode_event(r["body"])  # the stored body is a valid envelope
        prev = bytes(r["hash"])


async def test_concurrent_conflicting_commands_one_wins(pg_pool: asyncpg.Pool) -> None:
    """Two stops race on a running workspace: exactly one is accepted, the other is refused."""
    ws, cmd = create()
    created = await handler.execute(pg_pool, ws, cmd, ctx())
    assert created.state is not None
    async with pg_pool.acquire() as conn, conn.transaction():
        await eventstore.append(
            conn,
            [agent_event(ws, w.WorkspaceProvisionSucceeded(command_id=created.state.last_command_id, generation=1))],  # type: ignore[arg-type]
        )
    results = await asyncio.gather(
        *(handler.execute(pg_pool, ws, c.StopWorkspace(), ctx()) for _ in range(5)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, handler.Executed)]
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(accepted) == 1 and len(refused) == 4, results
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM wws_commands WHERE workspace_id = $1 AND command_type = 'agent.stop'", ws
        )
        == 1
    )


async def test_live_names_are_unique_until_deleted(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create(name="same")
    await handler.execute(pg_pool, ws, cmd, ctx())
    ws2, cmd2 = create(name="same")
    with pytest.raises(NameTaken):
        await handler.execute(pg_pool, ws2, cmd2, ctx())
    await handler.execute(pg_pool, ws, c.DeleteWorkspace(), ctx())
    await handler.execute(pg_pool, ws2, cmd2, ctx())


async def test_replayed_command_id_is_a_no_op(pg_pool: asyncpg.Pool) -> None:
    ws, cmd = create()
    command_id = uuid.uuid4()
    first = await handler.execute(pg_pool, ws, cmd, ctx(command_id))
    again = await handler.execute(pg_pool, ws, cmd, ctx(command_id))
    assert not first.replayed and again.replayed
    assert await pg_pool.fetchval("SELECT count(*) FROM wws_events WHERE stream_id = $1", str(ws)) == 2
