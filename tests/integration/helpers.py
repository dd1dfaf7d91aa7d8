"""Small builders shared by integration tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from wws_events import Actor, Envelope, new_envelope
from wws_events import commands as c
from wws_events import workspace as w
from wws_events.workspace import Resources, WorkspaceSpec
from wws_store import handler

SPEC = WorkspaceSpec(image="localhost/wws-base:bookworm", resources=Resources(cpu=1.0, memory_mb=256, disk_gb=1))
USER = Actor(type="user", id="tester", ip="127.0.0.1")
AGENT = Actor(type="service", id="agent:h1")


def ctx(command_id: uuid.UUID | None = None, actor: Actor = USER) -> handler.CommandContext:
    now = datetime.now(UTC)
    return handler.CommandContext(
        command_id=command_id or uuid.uuid4(),
        actor=actor,
        org_id="default",
        now=now,
        deadline=now + timedelta(minutes=5),
    )


def create(name: str = "ws", placement: str | None = "h1") -> tuple[uuid.UUID, c.CreateWorkspace]:
    ws = uuid.uuid4()
    return ws, c.CreateWorkspace(workspace_id=ws, name=name, owner_id="tester", spec=SPEC, placement=placement)


def agent_event(ws: uuid.UUID, data: w.WorkspaceEvent, *, event_id: uuid.UUID | None = None) -> Envelope:
    """An outcome as an agent publishes it: no stream version (the recorder assigns it)."""
    return new_envelope(
        data,
        event_id=event_id or uuid.uuid4(),
        stream_id=str(ws),
        occurred_at=datetime.now(UTC),
        org_id="default",
        actor=AGENT,
        correlation_id=uuid.uuid4(),
        host_id="h1",
    )
