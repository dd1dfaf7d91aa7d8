"""HTTP bodies. Separate from the wire events: the two contracts evolve under different
rules (requests forbid unknown fields so typos fail; events must tolerate them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from wws_events.workspace import NAME_PATTERN

Name = Annotated[
    str,
    msgspec.Meta(
        pattern=NAME_PATTERN,
        max_length=63,
        description="lowercase letters, digits and '-', starting with a letter, at most 63 characters",
    ),
]
ImageRef = Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}$", max_length=255)]
HostId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class CreateWorkspace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new workspace. Resources left out take the server's defaults."""

    name: Name
    template: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] | None = None
    image: ImageRef | None = None
    cpu: Annotated[float, msgspec.Meta(gt=0, description="CPU cores")] | None = None
    memory_mb: Annotated[int, msgspec.Meta(gt=0, description="memory limit in MiB")] | None = None
    disk_gb: Annotated[int, msgspec.Meta(gt=0, description="persistent home size in GiB")] | None = None
    host: HostId | None = None


class RebuildWorkspace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Rebuild from a new image (optional); the home volume is kept."""

    image: ImageRef | None = None


class ResourcesView(msgspec.Struct, kw_only=True):
    cpu: float
    memory_mb: int
    disk_gb: int


class ErrorView(msgspec.Struct, kw_only=True):
    code: str
    message: str
    retryable: bool


class WorkspaceView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    org_id: str
    owner_id: str
    status: str
    host_id: str | None
    image: str
    template: str | None
    resources: ResourcesView
    generation: int
    version: int
    container_id: str | None
    last_operation: str | None
    last_command_id: uuid.UUID | None
    last_error: ErrorView | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    last_activity_at: datetime | None = None


class WorkspaceList(msgspec.Struct, kw_only=True):
    items: list[WorkspaceView]
    next_cursor: str | None = None


class HostView(msgspec.Struct, kw_only=True):
    id: str
    status: Literal["live", "lost", "registered"]
    agent_version: str
    runtime: str
    capacity: dict[str, Any]
    allocated: dict[str, Any]
    workspaces: int
    images: list[str]
    address: str | None
    last_heartbeat_at: datetime | None
    registered_at: datetime | None


class HostList(msgspec.Struct, kw_only=True):
    items: list[HostView]


class Dependency(msgspec.Struct, kw_only=True):
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


class Health(msgspec.Struct, kw_only=True):
    status: Literal["ok", "degraded"]
    version: str
    nats: Dependency
    postgres: Dependency
    projection_lag: int


class AuditEntry(msgspec.Struct, kw_only=True):
    position: int
    event_id: uuid.UUID
    type: str
    stream_type: str
    stream_id: str
    workspace_id: uuid.UUID | None
    org_id: str
    actor_type: str
    actor_id: str
    source_ip: str | None
    host_id: str | None
    outcome: str
    reason: str | None
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: uuid.UUID
    summary: str
    data: dict[str, Any]


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEntry]
    next_cursor: int | None
    projection_position: int
    head_position: int


class ActivityAccepted(msgspec.Struct, kw_only=True):
    recorded: bool
    """False when an activity event for this workspace was recorded less than a minute ago."""
    last_activity_at: datetime | None
