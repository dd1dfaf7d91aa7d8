"""Execute a workspace command: fold the stream, ``decide``, then in ONE transaction
append the events and the host order (outbox). Used by the API, the scheduler, the
supervisor and the reaper, so every path to a host is the same path."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import msgspec

from wws_events import (
    EVENT_TYPES,
    Actor,
    CommandEnvelope,
    Envelope,
    WorkspaceCommand,
    WorkspaceNotFound,
    WorkspaceState,
    decide,
    dispatch,
    encode,
    evolve,
    new_envelope,
    tag_of,
)
from wws_events import commands as c
from wws_events import workspace as w
from wws_events.ids import event_id
from wws_store import eventstore, outbox
from wws_store.db import Conn, Executor
from wws_store.errors import ConcurrencyError, NameTaken

MAX_ATTEMPTS = 5
SNAPSHOT_EVERY = 20
"""A snapshot is written when a decision crosses a multiple of this stream version."""
STATE_SCHEMA = 1
"""Bump when ``WorkspaceState`` changes shape: older snapshots are then ignored."""
_state = msgspec.json.Decoder(WorkspaceState)


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    command_id: uuid.UUID
    actor: Actor
    org_id: str
    now: datetime
    deadline: datetime
    """When the host must have answered; the supervisor fails the operation after it."""
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    traceparent: str | None = None


class Executed(msgspec.Struct, frozen=True, kw_only=True):
    state: WorkspaceState | None
    stored: list[eventstore.StoredEvent]
    orders: list[CommandEnvelope]
    replayed: bool
    """True when these events were already stored by an earlier run of the same command."""


def _typed(events: list[eventstore.StoredEvent]) -> list[Envelope]:
    return [e.envelope for e in events if isinstance(e.envelope, Envelope)]


async def load(conn: Executor, workspace_id: uuid.UUID) -> WorkspaceState | None:
    """The current state: the latest snapshot plus the events after it."""
    stream = str(workspace_id)
    state: WorkspaceState | None = None
    after = 0
    snap = await conn.fetchrow(
        "SELECT stream_version, state FROM wws_snapshots WHERE stream_id = $1 AND state_schema = $2",
        stream,
        STATE_SCHEMA,
    )
    if snap is not None:
        state, after = _state.decode(snap["state"]), snap["stream_version"]
    for env in _typed(await eventstore.read_stream(conn, stream, after_version=after)):
        state = evolve(state, env)
    return state


async def _snapshot(conn: Conn, state: WorkspaceState) -> None:
    await conn.execute(
        """INSERT INTO wws_snapshots (stream_id, stream_version, state_schema, state) VALUES ($1, $2, $3, $4)
           ON CONFLICT (stream_id) DO UPDATE SET stream_version = EXCLUDED.stream_version,
             state_schema = EXCLUDED.state_schema, state = EXCLUDED.state, taken_at = clock_timestamp()
           WHERE wws_snapshots.stream_version < EXCLUDED.stream_version""",
        str(state.workspace_id),
        state.version,
        STATE_SCHEMA,
        encode(state).decode(),
    )


AfterAppend = Callable[[Conn, "Executed"], Awaitable[None]]


async def execute(
    pool: asyncpg.Pool,
    workspace_id: uuid.UUID,
    command: WorkspaceCommand,
    ctx: CommandContext,
    *,
    after_append: AfterAppend | None = None,
) -> Executed:
    """Run ``command`` in its own transaction; retries when an agent event moved the stream between
    our read and our append. Raises ``DomainError`` (nothing written) when not allowed."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                result = await execute_in(conn, workspace_id, command, ctx)
                if after_append is not None:
                    await after_append(conn, result)
                return result
        except ConcurrencyError:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def execute_in(
    conn: Conn,
    workspace_id: uuid.UUID,
    command: WorkspaceCommand,
    ctx: CommandContext,
    *,
    wake_relay: bool = True,
    org_id: str | frozenset[str] | None = None,
    prepare: Callable[[WorkspaceState | None, WorkspaceCommand], Awaitable[WorkspaceCommand]] | None = None,
) -> Executed:
    """One attempt inside the caller's transaction; ``ConcurrencyError`` means: retry.
    With ``org_id`` set (one or several), a workspace of another organization is treated
    as absent. ``prepare`` may complete the command from the state before ``decide``
    (quota budgets, read under the append lock)."""
    state = await load(conn, workspace_id)
    orgs = frozenset({org_id}) if isinstance(org_id, str) else org_id
    if orgs is not None and state is not None and state.org_id not in orgs:
        raise WorkspaceNotFound(workspace_id)
    if await eventstore.any_exists(conn, [event_id(ctx.command_id, tag, 0) for tag in EVENT_TYPES]):
        return Executed(state=state, stored=[], orders=[], replayed=True)  # this command already ran
    if prepare is not None:
        command = await prepare(state, command)
    decided = decide(state, command, ctx.command_id, workspace_id=workspace_id)
    envelopes: list[Envelope] = []
    version = version_before = state.version if state else 0
    counts: dict[str, int] = {}
    for data in decided:
        tag = tag_of(type(data))
        n = counts.get(tag, 0)
        counts[tag] = n + 1
        version += 1
        envelopes.append(
            new_envelope(
                data,
                event_id=event_id(ctx.command_id, tag, n),
                stream_id=str(workspace_id),
                stream_version=version,
                occurred_at=ctx.now,
                org_id=ctx.org_id if state is None else state.org_id,
                actor=ctx.actor,
                correlation_id=ctx.correlation_id or ctx.command_id,
                causation_id=ctx.causation_id,
                reason=getattr(data, "reason", None) if isinstance(data, w.WorkspaceStopRequested) else None,
                traceparent=ctx.traceparent,
            )
        )
    orders: list[CommandEnvelope] = []
    after = state
    for env in envelopes:
        after = evolve(after, env)
        assert after is not None
        order = dispatch(after, env.data)
        if order is not None and after.host_id is not None:
            orders.append(
                CommandEnvelope(
                    command_id=ctx.command_id,
                    type=tag_of(type(order)),
                    schema_version=type(order).SCHEMA_VERSION,
                    workspace_id=workspace_id,
                    host_id=after.host_id,
                    seq=after.version,
                    org_id=after.org_id,
                    actor=ctx.actor,
                    correlation_id=ctx.correlation_id or ctx.command_id,
                    causation_id=env.event_id,
                    issued_at=ctx.now,
                    deadline=ctx.deadline,
                    traceparent=ctx.traceparent,
                    data=order,
                )
            )
    await _names(conn, command, after)
    stored = await eventstore.append(conn, envelopes)
    if envelopes and not stored:  # a concurrent run of the same command got there first
        return Executed(state=await load(conn, workspace_id), stored=[], orders=[], replayed=True)
    if after is not None and after.version // SNAPSHOT_EVERY > version_before // SNAPSHOT_EVERY:
        await _snapshot(conn, after)
    for queued in orders:
        await outbox.enqueue(conn, queued, wake_relay=wake_relay)
    return Executed(state=after, stored=stored, orders=orders, replayed=False)


async def _names(conn: Conn, command: WorkspaceCommand, after: WorkspaceState | None) -> None:
    """Keep the live-name index in step with the decision (same transaction)."""
    if after is None:
        return
    if isinstance(command, c.CreateWorkspace):
        inserted = await conn.fetchval(
            """INSERT INTO wws_workspace_names (org_id, name, workspace_id) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING RETURNING workspace_id""",
            after.org_id,
            after.name,
            after.workspace_id,
        )
        if inserted is None:
            holder = await conn.fetchval(
                "SELECT workspace_id FROM wws_workspace_names WHERE org_id = $1 AND name = $2", after.org_id, after.name
            )
            if holder != after.workspace_id:
                raise NameTaken(after.org_id, after.name)
    elif isinstance(command, c.DeleteWorkspace):
        await conn.execute("DELETE FROM wws_workspace_names WHERE workspace_id = $1", after.workspace_id)
