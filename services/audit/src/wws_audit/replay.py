"""Replay: what did a workspace look like at time T, and who changed it up to then."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from wws_audit.summary import summarize
from wws_events import Envelope, WorkspaceState, evolve
from wws_store import eventstore
from wws_store.db import Executor


class Change(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    occurred_at: datetime
    actor: str
    type: str
    summary: str
    status_after: str | None


class Replay(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    at: datetime | None
    state: WorkspaceState | None
    changes: list[Change]


async def replay(db: Executor, workspace_id: uuid.UUID, at: datetime | None = None) -> Replay:
    state: WorkspaceState | None = None
    changes = []
    for stored in await eventstore.read_stream(db, str(workspace_id)):
        env = stored.envelope
        if at is not None and env.occurred_at > at:
            break
        if isinstance(env, Envelope):
            state = evolve(state, env)
        changes.append(
            Change(
                position=stored.position,
                occurred_at=env.occurred_at,
                actor=str(env.actor),
                type=env.type,
                summary=summarize(env),
                status_after=state.status if state else None,
            )
        )
    return Replay(workspace_id=workspace_id, at=at, state=state, changes=changes)
