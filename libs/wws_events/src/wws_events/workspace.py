"""Workspace events: what was asked (``*_requested``), and what a host agent reported."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal, get_args

import msgspec
from typing_extensions import TypeIs

from wws_events._base import EventData, Outcome

WorkspaceStatus = Literal[
    "pending",
    "scheduled",
    "provisioning",
    "running",
    "stopping",
    "stopped",
    "starting",
    "deleting",
    "deleted",
    "failed",
]
Operation = Literal["provision", "start", "stop", "restart", "rebuild", "delete"]

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$|^[a-z]$"


class Resources(msgspec.Struct, frozen=True, kw_only=True):
    """What a workspace may use: CPU cores, memory and persistent disk."""

    cpu: Annotated[float, msgspec.Meta(gt=0)]
    memory_mb: Annotated[int, msgspec.Meta(gt=0)]
    disk_gb: Annotated[int, msgspec.Meta(gt=0)]
    pids: int = 4096


Network = Literal["none", "egress"]


class CreateRepository(msgspec.Struct, frozen=True, kw_only=True):
    """Create a new repository on GitHub (or GitHub Enterprise) for the workspace."""

    name: str
    owner: str | None = None
    """An organization; None creates it for the token's user."""
    private: bool = True
    api_url: str = "https://api.github.com"


class Repository(msgspec.Struct, frozen=True, kw_only=True):
    """The repository cloned into ``~/src/<name>`` on first start."""

    url: str | None = None
    branch: str | None = None
    create: CreateRepository | None = None
    credential: str | None = None
    """Name of the stored secret holding the token (never the token itself)."""


class Dotfiles(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    branch: str | None = None


class Script(msgspec.Struct, frozen=True, kw_only=True):
    source: Literal["template", "workspace"]
    script: str


class WorkspaceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a host needs to (re)create the workspace's container and initialise it.
    Fields after ``resources`` were added in wire v1.1; all have defaults."""

    image: str
    template: str | None = None
    resources: Resources
    template_id: str | None = None
    template_version: int | None = None
    languages: list[str] = []
    ide: bool = False
    """Run code-server (on a loopback port of the host, reached through WWS)."""
    network: Network = "none"
    env: dict[str, str] = {}
    repository: Repository | None = None
    dotfiles: Dotfiles | None = None
    bootstrap: list[Script] = []
    """Run as the workspace user at every start, template's first, then the workspace's."""
    ports: list[int] = []
    idle_timeout_s: int | None = None
    devcontainer: bool = True
    """Let the repository's devcontainer.json drive the image, environment and lifecycle."""


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A failure as people and machines both need it: a stable code, a sentence, a hint."""

    code: str
    message: str
    retryable: bool = False


# ---------------------------------------------------------------- requested (API side)


class WorkspaceCreated(EventData, frozen=True, kw_only=True, tag="workspace.created"):
    workspace_id: uuid.UUID
    name: str
    owner_id: str
    spec: WorkspaceSpec
    requested_host: str | None = None


class WorkspaceScheduled(EventData, frozen=True, kw_only=True, tag="workspace.scheduled"):
    """Placed on a host; the provision command goes out with it."""

    command_id: uuid.UUID
    host_id: str
    reason: str


class WorkspaceStartRequested(EventData, frozen=True, kw_only=True, tag="workspace.start_requested"):
    command_id: uuid.UUID


class WorkspaceStopRequested(EventData, frozen=True, kw_only=True, tag="workspace.stop_requested"):
    command_id: uuid.UUID
    reason: str | None = None
    """Why it is stopped when the actor is not the owner (idle timeout, admin force-stop)."""
    force: bool = False
    """No grace period: the container is killed at once (wire v1.1)."""


class WorkspaceRestartRequested(EventData, frozen=True, kw_only=True, tag="workspace.restart_requested"):
    command_id: uuid.UUID


class WorkspaceRebuildRequested(EventData, frozen=True, kw_only=True, tag="workspace.rebuild_requested"):
    """A new container from ``spec``, keeping the persistent home volume."""

    command_id: uuid.UUID
    generation: int
    spec: WorkspaceSpec


class WorkspaceDeleteRequested(EventData, frozen=True, kw_only=True, tag="workspace.delete_requested"):
    command_id: uuid.UUID


GrantLevel = Literal["use", "manage"]
"""``use``: open, connect, start; ``manage``: also stop, restart, rebuild, delete, share."""


class WorkspaceAccessGranted(EventData, frozen=True, kw_only=True, tag="workspace.access_granted"):
    """``subject`` (``user:<id>`` or ``team:<id>``) may use or manage the workspace."""

    subject: str
    level: GrantLevel


class WorkspaceAccessRevoked(EventData, frozen=True, kw_only=True, tag="workspace.access_revoked"):
    subject: str


ShareLevel = Literal["owner", "org", "public"]
"""Who may open a shared port: the owner and those the workspace is shared with, any
member of the organization, or anyone with the link."""


class WorkspacePortShared(EventData, frozen=True, kw_only=True, tag="workspace.port_shared"):
    share_id: str
    port: int
    level: ShareLevel
    expires_at: datetime


class WorkspacePortShareExtended(EventData, frozen=True, kw_only=True, tag="workspace.port_share_extended"):
    share_id: str
    expires_at: datetime


class WorkspacePortUnshared(EventData, frozen=True, kw_only=True, tag="workspace.port_unshared"):
    share_id: str
    reason: Literal["revoked", "expired"]


class WorkspaceIdleWarning(EventData, frozen=True, kw_only=True, tag="workspace.idle_warning"):
    """The reaper will stop the workspace at ``stop_at`` unless someone works in it."""

    idle_since: datetime
    stop_at: datetime
    last_signal: str


class WorkspaceOperationTimedOut(EventData, frozen=True, kw_only=True, tag="workspace.operation_timed_out"):
    """The control plane stopped waiting for a host that did not answer before the deadline."""

    OUTCOME: ClassVar[Outcome] = "failure"
    command_id: uuid.UUID
    operation: Operation
    error: ErrorInfo


# ---------------------------------------------------------------- reported (agent side)


class WorkspaceOperationStarted(EventData, frozen=True, kw_only=True, tag="workspace.operation_started"):
    """The agent took the command and began work (not an outcome)."""

    command_id: uuid.UUID
    operation: Operation


class WorkspaceRestartStopped(EventData, frozen=True, kw_only=True, tag="workspace.restart_stopped"):
    """Progress of a restart: the old process tree is down, the start follows."""

    command_id: uuid.UUID


class _Succeeded(EventData, frozen=True, kw_only=True):
    command_id: uuid.UUID
    generation: int | None = None
    """The container generation now running (None for stop and delete)."""
    container_id: str | None = None
    image: str | None = None
    """The image the container actually runs (a devcontainer image may replace the spec's)."""
    ide_port: int | None = None
    """Host loopback port of the workspace's IDE, when it has one."""


class _Failed(EventData, frozen=True, kw_only=True):
    OUTCOME: ClassVar[Outcome] = "failure"
    command_id: uuid.UUID
    error: ErrorInfo


class WorkspaceProvisionSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.provision_succeeded"):
    pass


class WorkspaceProvisionFailed(_Failed, frozen=True, kw_only=True, tag="workspace.provision_failed"):
    pass


class WorkspaceStartSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.start_succeeded"):
    pass


class WorkspaceStartFailed(_Failed, frozen=True, kw_only=True, tag="workspace.start_failed"):
    pass


class WorkspaceStopSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.stop_succeeded"):
    pass


class WorkspaceStopFailed(_Failed, frozen=True, kw_only=True, tag="workspace.stop_failed"):
    pass


class WorkspaceRestartSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.restart_succeeded"):
    pass


class WorkspaceRestartFailed(_Failed, frozen=True, kw_only=True, tag="workspace.restart_failed"):
    pass


class WorkspaceRebuildSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.rebuild_succeeded"):
    pass


class WorkspaceRebuildFailed(_Failed, frozen=True, kw_only=True, tag="workspace.rebuild_failed"):
    pass


class WorkspaceDeleteSucceeded(_Succeeded, frozen=True, kw_only=True, tag="workspace.delete_succeeded"):
    pass


class WorkspaceDeleteFailed(_Failed, frozen=True, kw_only=True, tag="workspace.delete_failed"):
    pass


class WorkspaceCommandRejected(EventData, frozen=True, kw_only=True, tag="workspace.command_rejected"):
    """The agent refused a command (stale, expired, unknown type, malformed) without acting."""

    OUTCOME: ClassVar[Outcome] = "noop"
    command_id: uuid.UUID
    error: ErrorInfo


class WorkspaceObserved(EventData, frozen=True, kw_only=True, tag="workspace.observed"):
    """What an agent found on its host at reconcile, for a workspace it still runs."""

    container_id: str | None
    runtime_status: Literal["running", "exited", "created", "missing"]
    generation: int


# ---------------------------------------------------------------- in-workspace init (agent relays)

InitStep = Literal["repository", "devcontainer", "dotfiles", "bootstrap", "lifecycle", "extensions", "ide", "secrets"]


class WorkspaceInitStepStarted(EventData, frozen=True, kw_only=True, tag="workspace.init_step_started"):
    run_id: uuid.UUID
    """The order whose start this init run belongs to."""
    step: InitStep
    name: str
    """Which one of the step (e.g. ``template``/``workspace`` bootstrap, a lifecycle command)."""


class WorkspaceInitStepSucceeded(EventData, frozen=True, kw_only=True, tag="workspace.init_step_succeeded"):
    run_id: uuid.UUID
    step: InitStep
    name: str
    duration_ms: int
    detail: str | None = None


class WorkspaceInitStepFailed(EventData, frozen=True, kw_only=True, tag="workspace.init_step_failed"):
    OUTCOME: ClassVar[Outcome] = "failure"
    run_id: uuid.UUID
    step: InitStep
    name: str
    duration_ms: int
    exit_code: int | None
    message: str
    output_tail: list[str] = []
    """The last lines of the step's output (secrets are never written there: WWS never
    passes them on a command line or in the environment)."""


class WorkspaceInitFinished(EventData, frozen=True, kw_only=True, tag="workspace.init_finished"):
    """Init ran to its end: the workspace is ready (``degraded`` when a step failed)."""

    run_id: uuid.UUID
    duration_ms: int
    degraded: bool
    failed_steps: list[str] = []


class WorkspaceDevcontainerApplied(EventData, frozen=True, kw_only=True, tag="workspace.devcontainer_applied"):
    """The repository's devcontainer.json drives this workspace; ``unsupported`` keys are
    reported here, never silently dropped."""

    run_id: uuid.UUID
    source: str
    image: str | None
    unsupported: list[str] = []
    warnings: list[str] = []


class WorkspaceDevcontainerInvalid(EventData, frozen=True, kw_only=True, tag="workspace.devcontainer_invalid"):
    """The devcontainer.json could not be used; the workspace continues on its template."""

    OUTCOME: ClassVar[Outcome] = "failure"
    run_id: uuid.UUID
    source: str
    message: str
    line: int | None = None
    column: int | None = None


class WorkspaceActivityRecorded(EventData, frozen=True, kw_only=True, tag="workspace.activity_recorded"):
    """Someone worked in the workspace (coarse: at most one per workspace per minute)."""

    STREAM_TYPE: ClassVar[str] = "activity"
    workspace_id: uuid.UUID
    source: str


SUCCEEDED: dict[Operation, type[_Succeeded]] = {
    "provision": WorkspaceProvisionSucceeded,
    "start": WorkspaceStartSucceeded,
    "stop": WorkspaceStopSucceeded,
    "restart": WorkspaceRestartSucceeded,
    "rebuild": WorkspaceRebuildSucceeded,
    "delete": WorkspaceDeleteSucceeded,
}
FAILED: dict[Operation, type[_Failed]] = {
    "provision": WorkspaceProvisionFailed,
    "start": WorkspaceStartFailed,
    "stop": WorkspaceStopFailed,
    "restart": WorkspaceRestartFailed,
    "rebuild": WorkspaceRebuildFailed,
    "delete": WorkspaceDeleteFailed,
}

WorkspaceEvent = (
    WorkspaceCreated
    | WorkspaceScheduled
    | WorkspaceStartRequested
    | WorkspaceStopRequested
    | WorkspaceRestartRequested
    | WorkspaceRebuildRequested
    | WorkspaceDeleteRequested
    | WorkspaceAccessGranted
    | WorkspaceAccessRevoked
    | WorkspacePortShared
    | WorkspacePortShareExtended
    | WorkspacePortUnshared
    | WorkspaceIdleWarning
    | WorkspaceOperationTimedOut
    | WorkspaceOperationStarted
    | WorkspaceRestartStopped
    | WorkspaceProvisionSucceeded
    | WorkspaceProvisionFailed
    | WorkspaceStartSucceeded
    | WorkspaceStartFailed
    | WorkspaceStopSucceeded
    | WorkspaceStopFailed
    | WorkspaceRestartSucceeded
    | WorkspaceRestartFailed
    | WorkspaceRebuildSucceeded
    | WorkspaceRebuildFailed
    | WorkspaceDeleteSucceeded
    | WorkspaceDeleteFailed
    | WorkspaceCommandRejected
    | WorkspaceObserved
    | WorkspaceInitStepStarted
    | WorkspaceInitStepSucceeded
    | WorkspaceInitStepFailed
    | WorkspaceInitFinished
    | WorkspaceDevcontainerApplied
    | WorkspaceDevcontainerInvalid
)
WORKSPACE_EVENTS: tuple[type[EventData], ...] = get_args(WorkspaceEvent)


def is_workspace_event(event: EventData) -> TypeIs[WorkspaceEvent]:
    """An event of a workspace's own stream (narrows for ``match`` exhaustiveness)."""
    return isinstance(event, WORKSPACE_EVENTS)


Succeeded = _Succeeded
Failed = _Failed
