"""Workspace events: what was asked (``*_requested``), and what a host agent reported."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal

import msgspec

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


class WorkspaceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a host needs to (re)create the workspace's container."""

    image: str
    template: str | None = None
    resources: Resources


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


class WorkspaceRestartRequested(EventData, frozen=True, kw_only=True, tag="workspace.restart_requested"):
    command_id: uuid.UUID


class WorkspaceRebuildRequested(EventData, frozen=True, kw_only=True, tag="workspace.rebuild_requested"):
    """A new container from ``spec``, keeping the persistent home volume."""

    command_id: uuid.UUID
    generation: int
    spec: WorkspaceSpec


class WorkspaceDeleteRequested(EventData, frozen=True, kw_only=True, tag="workspace.delete_requested"):
    command_id: uuid.UUID


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
)
Succeeded = _Succeeded
Failed = _Failed
