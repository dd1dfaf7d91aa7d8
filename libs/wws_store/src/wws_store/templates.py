"""Execute template commands: fold the template's stream, decide, append (one
transaction, with the org's name index kept in step)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from wws_events import Actor, Envelope, new_envelope, tag_of
from wws_events.ids import event_id
from wws_events.template import (
    CreateTemplate,
    DeleteTemplate,
    TemplateCommand,
    TemplateCreated,
    TemplateDeleted,
    TemplateEvent,
    TemplateState,
    TemplateUpdated,
    decide_template,
    evolve_template,
    template_stream,
)
from wws_store import eventstore
from wws_store.db import Conn, Executor
from wws_store.errors import NameTaken

_TEMPLATE_EVENTS = (TemplateCreated, TemplateUpdated, TemplateDeleted)


class TemplateExecuted(msgspec.Struct, frozen=True, kw_only=True):
    state: TemplateState | None
    stored: list[eventstore.StoredEvent]
    replayed: bool


async def load(db: Executor, template_id: uuid.UUID) -> TemplateState | None:
    state: TemplateState | None = None
    for stored in await eventstore.read_stream(db, template_stream(template_id)):
        env = stored.envelope
        if isinstance(env, Envelope) and isinstance(env.data, _TEMPLATE_EVENTS):
            state = evolve_template(
                state, env.data, org_id=env.org_id, stream_version=env.stream_version or 0, at=env.occurred_at
            )
    return state


async def execute_in(
    conn: Conn,
    template_id: uuid.UUID,
    command: TemplateCommand,
    *,
    command_id: uuid.UUID,
    actor: Actor,
    org_id: str,
    now: datetime,
    traceparent: str | None = None,
) -> TemplateExecuted:
    """One attempt in the caller's transaction (``ConcurrencyError`` means: retry)."""
    state = await load(conn, template_id)
    if state is not None and state.org_id != org_id:
        state = None  # another organization's template does not exist for this caller
    candidates = [event_id(command_id, tag_of(cls), 0) for cls in _TEMPLATE_EVENTS]
    if await eventstore.any_exists(conn, candidates):
        return TemplateExecuted(state=state, stored=[], replayed=True)
    decided: list[TemplateEvent] = decide_template(state, command)
    version = state.stream_version if state else 0
    envelopes = []
    after = state
    for n, data in enumerate(decided):
        version += 1
        env = new_envelope(
            data,
            event_id=event_id(command_id, tag_of(type(data)), n),
            stream_id=template_stream(template_id),
            stream_version=version,
            occurred_at=now,
            org_id=org_id,
            actor=actor,
            correlation_id=command_id,
            traceparent=traceparent,
        )
        envelopes.append(env)
        after = evolve_template(after, data, org_id=org_id, stream_version=version, at=now)
    if isinstance(command, CreateTemplate) and after is not None:
        taken = await conn.fetchval(
            """INSERT INTO wws_template_names (org_id, name, template_id) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING RETURNING template_id""",
            org_id,
            command.name,
            template_id,
        )
        if taken is None:
            raise NameTaken(org_id, command.name, "template")
    elif isinstance(command, DeleteTemplate):
        await conn.execute("DELETE FROM wws_template_names WHERE template_id = $1", template_id)
    stored = await eventstore.append(conn, envelopes)
    return TemplateExecuted(state=after, stored=stored, replayed=False)
