"""Execute template commands: fold the template's stream, decide, append (one
transaction, with the org's name index kept in step)."""

from __future__ import annotations

import uuid
from datetime import datetime

from wws_events import Actor
from wws_events.template import (
    CreateTemplate,
    DeleteTemplate,
    TemplateCommand,
    TemplateCreated,
    TemplateDeleted,
    TemplateState,
    TemplateUpdated,
    decide_template,
    evolve_template,
    template_stream,
)
from wws_store import aggregates
from wws_store.db import Conn, Executor
from wws_store.errors import NameTaken

_TEMPLATE_EVENTS = (TemplateCreated, TemplateUpdated, TemplateDeleted)


TEMPLATES: aggregates.Aggregate[TemplateState | None, TemplateCommand] = aggregates.Aggregate(
    stream=lambda key: template_stream(uuid.UUID(key)),
    events=_TEMPLATE_EVENTS,
    decide=decide_template,
    evolve=lambda state, data, env: evolve_template(
        state, data, org_id=env.org_id, stream_version=env.stream_version or 0, at=env.occurred_at
    ),
)


async def load(db: Executor, template_id: uuid.UUID) -> TemplateState | None:
    state, _ = await aggregates.load(db, TEMPLATES, str(template_id), None)
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
) -> aggregates.Executed[TemplateState | None]:
    """One attempt in the caller's transaction (``ConcurrencyError`` means: retry), with the
    organization's name index kept in step."""
    state, version = await aggregates.load(conn, TEMPLATES, str(template_id), None)
    if state is not None and state.org_id != org_id:
        state = None  # another organization's template does not exist for this caller
    result = await aggregates.execute_in(
        conn,
        TEMPLATES,
        str(template_id),
        command,
        command_id=command_id,
        actor=actor,
        org_id=org_id,
        now=now,
        traceparent=traceparent,
        initial=None,
        state=(state, version),
    )
    if result.replayed or not result.stored:
        return result
    if isinstance(command, CreateTemplate):
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
    return result
