"""Execute a command against any event-sourced aggregate kept in the log (templates,
users, organizations): fold its stream, ``decide``, append — in the caller's transaction,
with optimistic concurrency on the stream version and idempotency by command id.

The workspace aggregate has its own handler (snapshots, host orders, the outbox); this is
the same discipline for aggregates that only record facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from wws_events import Actor, Envelope, EventData, new_envelope, tag_of
from wws_events.ids import event_id
from wws_store import eventstore
from wws_store.db import Conn, Executor

S = TypeVar("S")
C = TypeVar("C")


@dataclass(frozen=True)
class Aggregate(Generic[S, C]):
    """How one kind of aggregate folds and decides."""

    stream: Callable[[str], str]
    """Key → stream id (``user-<id>``, ``org-<id>``, ...)."""
    events: tuple[type[EventData], ...]
    decide: Callable[[S, C], Sequence[Any]]
    evolve: Callable[[S, Any, Envelope], S]
    """(state, event data, its envelope) → state; the envelope gives version, time, org.
    ``S`` includes None: the state before the first event."""


class Executed(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    state: S
    stored: list[eventstore.StoredEvent]
    replayed: bool
    """The command already ran (same command id): nothing new was written."""

    @property
    def envelopes(self) -> list[Envelope]:
        return [e.envelope for e in self.stored if isinstance(e.envelope, Envelope)]


def version_of(stored: list[eventstore.StoredEvent]) -> int:
    return max((e.envelope.stream_version or 0 for e in stored), default=0)


async def load(db: Executor, agg: Aggregate[S, C], key: str, initial: S) -> tuple[S, int]:
    """The state and the stream's version (0: no stream)."""
    state = initial
    stored = await eventstore.read_stream(db, agg.stream(key))
    for item in stored:
        env = item.envelope
        if isinstance(env, Envelope) and isinstance(env.data, agg.events):
            state = agg.evolve(state, env.data, env)
    return state, version_of(stored)


async def execute_in(
    conn: Conn,
    agg: Aggregate[S, C],
    key: str,
    command: C,
    *,
    command_id: uuid.UUID,
    actor: Actor,
    org_id: str,
    now: datetime,
    traceparent: str | None = None,
    correlation_id: uuid.UUID | None = None,
    initial: S,
    state: tuple[S, int] | None = None,
) -> Executed[S]:
    """One attempt (``ConcurrencyError``: the stream moved, retry). ``state`` skips the
    load when the caller already folded the stream in this transaction."""
    if state is None:
        state = await load(conn, agg, key, initial)
    current, version = state
    # before deciding: a repeated create would otherwise be refused instead of recognised
    if await eventstore.any_exists(conn, [event_id(command_id, tag_of(cls), 0) for cls in agg.events]):
        return Executed(state=current, stored=[], replayed=True)
    decided = agg.decide(current, command)
    envelopes: list[Envelope] = []
    after = current
    counts: dict[str, int] = {}
    for data in decided:
        tag = tag_of(type(data))
        n = counts.get(tag, 0)
        counts[tag] = n + 1
        version += 1
        env = new_envelope(
            data,
            event_id=event_id(command_id, tag, n),
            stream_id=agg.stream(key),
            stream_version=version,
            occurred_at=now,
            org_id=org_id,
            actor=actor,
            correlation_id=correlation_id or command_id,
            traceparent=traceparent,
        )
        envelopes.append(env)
        after = agg.evolve(after, data, env)
    stored = await eventstore.append(conn, envelopes)
    if envelopes and not stored:  # a concurrent run of the same command got there first
        return Executed(state=after, stored=[], replayed=True)
    return Executed(state=after, stored=stored, replayed=False)
