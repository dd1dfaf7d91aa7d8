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


GitUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?|ssh|git)://[^\s]+$|^[\w.-]+@[\w.-]+:[^\s]+$", max_length=1024)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Language = Literal["go", "node", "python", "rust"]
EnvName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Env = Annotated[dict[EnvName, Annotated[str, msgspec.Meta(max_length=4096)]], msgspec.Meta(max_length=100)]
Script = Annotated[str, msgspec.Meta(max_length=65536)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
TemplateName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class NewRepository(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Create a GitHub (Enterprise) repository for the workspace, then clone it."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
    owner: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,39}$")] | None = None
    private: bool = True
    api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+$")] | None = None


class RepositoryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Clone ``url`` (optionally ``branch``), or ``create`` a new repository; ``token``
    authenticates git over HTTPS (stored encrypted, handed to the workspace on a tmpfs)."""

    url: GitUrl | None = None
    branch: Annotated[str, msgspec.Meta(pattern=r"^[\w./-]{1,200}$")] | None = None
    create: NewRepository | None = None
    token: Token | None = None


class DotfilesRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: GitUrl
    branch: Annotated[str, msgspec.Meta(pattern=r"^[\w./-]{1,200}$")] | None = None


class CreateWorkspace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new workspace. Settings left out come from the template, then the server's defaults."""

    name: Name
    template: TemplateName | None = None
    image: ImageRef | None = None
    languages: list[Language] | None = None
    cpu: Annotated[float, msgspec.Meta(gt=0, description="CPU cores")] | None = None
    memory_mb: Annotated[int, msgspec.Meta(gt=0, description="memory limit in MiB")] | None = None
    disk_gb: Annotated[int, msgspec.Meta(gt=0, description="persistent home size in GiB")] | None = None
    host: HostId | None = None
    repository: RepositoryRequest | None = None
    dotfiles: DotfilesRequest | None = None
    bootstrap: Script | None = None
    env: Env | None = None
    ide: bool | None = None
    network: Literal["none", "egress"] | None = None
    ports: list[Port] | None = None
    idle_timeout_s: Annotated[int, msgspec.Meta(gt=0)] | None = None
    devcontainer: bool = True


class ShareCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Share a port the workspace serves: ``owner`` (its owner and those it is shared with),
    ``org`` (any member of the organization) or ``public`` (anyone with the link)."""

    port: Port
    level: Literal["owner", "org", "public"] = "owner"
    expires_in_s: Annotated[int, msgspec.Meta(gt=0)] | None = None


class ShareExtend(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expires_in_s: Annotated[int, msgspec.Meta(gt=0)]


class RebuildWorkspace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Rebuild: a new container, same home. ``image`` replaces the image; ``template_version``
    (a number or "latest") moves the workspace to that version of its template."""

    image: ImageRef | None = None
    template_version: int | Literal["latest"] | None = None


class TemplateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A template (create: all fields; update: the fields to change)."""

    name: TemplateName | None = None
    description: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    image: ImageRef | None = None
    languages: list[Language] | None = None
    ide: bool | None = None
    cpu: Annotated[float, msgspec.Meta(gt=0)] | None = None
    memory_mb: Annotated[int, msgspec.Meta(gt=0)] | None = None
    disk_gb: Annotated[int, msgspec.Meta(gt=0)] | None = None
    bootstrap: Script | None = None
    idle_timeout_s: Annotated[int, msgspec.Meta(gt=0)] | None = None
    env: Env | None = None
    ports: list[Port] | None = None
    network: Literal["none", "egress"] | None = None


class TemplateView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    version: int
    description: str
    image: str
    """The image workspaces of this template run (built from ``languages`` when not given)."""
    languages: list[str]
    ide: bool
    resources: ResourcesView
    bootstrap: str | None
    idle_timeout_s: int | None
    env: dict[str, str]
    ports: list[int]
    network: str
    created_at: datetime
    updated_at: datetime


class TemplateList(msgspec.Struct, kw_only=True):
    items: list[TemplateView]


class TemplateVersionView(msgspec.Struct, kw_only=True):
    version: int
    created_at: datetime
    spec: dict[str, Any]


class RepositoryView(msgspec.Struct, kw_only=True):
    url: str | None
    branch: str | None
    create: dict[str, Any] | None
    has_credential: bool


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
    """The image the container runs (the devcontainer's when one applies)."""
    template: str | None
    template_version: int | None
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
    ready: bool = False
    """In-workspace init finished for the current start (repository, dotfiles, bootstrap, IDE)."""
    degraded: bool = False
    """Init finished, but a step failed (see ``failed_steps`` and the events)."""
    failed_steps: list[str] = []
    languages: list[str] = []
    ide: bool = False
    ide_port: int | None = None
    network: str = "none"
    repository: RepositoryView | None = None
    dotfiles: str | None = None
    devcontainer: str | None = None
    devcontainer_error: str | None = None
    idle_timeout_s: int | None = None


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
    pool_org: str | None = None
    """The organization this host serves only; null: shared."""


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
