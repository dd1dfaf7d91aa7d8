"""The Workspace aggregate: pure ``decide`` and ``evolve``, and ``dispatch`` (which
agent order a decided event sends to the host). No I/O, no clock.

State machine (docs/ARCHITECTURE.md):
``pending → scheduled → provisioning → running ⇄ stopping → stopped → starting → running``;
any state → ``deleting → deleted``; any active state → ``failed`` (startable, deletable).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import assert_never

import msgspec

from wws_events import commands as c
from wws_events import quota
from wws_events import workspace as w
from wws_events._base import EventData
from wws_events.errors import DomainError, InvalidTransition, WorkspaceExists, WorkspaceNotFound
from wws_events.events import Envelope
from wws_events.workspace import ErrorInfo, GrantLevel, Operation, ShareLevel, WorkspaceSpec, WorkspaceStatus

MAX_SHARES = 20


class PortShare(msgspec.Struct, frozen=True, kw_only=True):
    port: int
    level: ShareLevel
    expires_at: datetime


class ShareNotFound(DomainError):
    code = "share_not_found"

    def __init__(self, share_id: str) -> None:
        self.share_id = share_id
        super().__init__(f"no live share {share_id}")


class ShareInvalid(DomainError):
    code = "share_invalid"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class WorkspaceState(msgspec.Struct, frozen=True, kw_only=True):
    """The fold of one workspace stream."""

    workspace_id: uuid.UUID
    org_id: str
    name: str
    owner_id: str
    spec: WorkspaceSpec
    status: WorkspaceStatus
    version: int
    generation: int = 0
    host_id: str | None = None
    requested_host: str | None = None
    container_id: str | None = None
    last_command_id: uuid.UUID | None = None
    """The newest order sent to the host; its outcome moves the status."""
    last_operation: Operation | None = None
    last_error: ErrorInfo | None = None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    observed_status: str | None = None
    image: str | None = None
    """The image the container runs (a devcontainer image may replace ``spec.image``)."""
    ide_port: int | None = None
    ready: bool = False
    """In-workspace init finished for the current start."""
    degraded: bool = False
    failed_steps: list[str] = []
    devcontainer: str | None = None
    devcontainer_error: str | None = None
    grants: dict[str, GrantLevel] = {}
    """``user:<id>`` / ``team:<id>`` → level; the owner needs none."""
    shares: dict[str, PortShare] = {}
    """Shared ports by share id (expired ones until the sweeper records it)."""


ACTIVE: frozenset[WorkspaceStatus] = frozenset(
    {"pending", "scheduled", "provisioning", "running", "stopping", "stopped", "starting", "failed"}
)
TRANSITIONAL: frozenset[WorkspaceStatus] = frozenset({"scheduled", "provisioning", "stopping", "starting", "deleting"})


def _need(state: WorkspaceState | None, command: c.WorkspaceCommand, workspace_id: uuid.UUID | None) -> WorkspaceState:
    if state is None:
        raise WorkspaceNotFound(workspace_id or "unknown")
    if state.status == "deleted":
        raise InvalidTransition(_verb(command), state.status, "it is gone")
    return state


def _verb(command: c.WorkspaceCommand) -> str:
    tag = type(command).__struct_config__.tag
    assert isinstance(tag, str)
    return tag.removeprefix("workspace.")


def _refuse(command: c.WorkspaceCommand, state: WorkspaceState, detail: str = "") -> InvalidTransition:
    return InvalidTransition(_verb(command), state.status, detail)


def decide(
    state: WorkspaceState | None,
    command: c.WorkspaceCommand,
    command_id: uuid.UUID,
    *,
    workspace_id: uuid.UUID | None = None,
) -> list[w.WorkspaceEvent]:
    """Events that ``command`` (identified by ``command_id``) produces from ``state``.

    Raises a ``DomainError`` when the command is not allowed; returns no events when it
    is already satisfied in a way that needs no new fact (never, at present: repeats are
    409 so callers learn the true state).
    """
    match command:
        case c.CreateWorkspace():
            if state is not None:
                raise WorkspaceExists(command.workspace_id)
            quota.check(command.quota, command.spec.resources, live=True, running=True)
            created = w.WorkspaceCreated(
                workspace_id=command.workspace_id,
                name=command.name,
                owner_id=command.owner_id,
                spec=command.spec,
                requested_host=command.requested_host,
            )
            if command.placement is None:
                return [created]
            return [
                created,
                w.WorkspaceScheduled(command_id=command_id, host_id=command.placement, reason=command.placement_reason),
            ]
        case c.ScheduleWorkspace():
            s = _need(state, command, workspace_id)
            if s.status != "pending":
                raise _refuse(command, s, "only pending workspaces are scheduled")
            return [w.WorkspaceScheduled(command_id=command_id, host_id=command.host_id, reason=command.reason)]
        case c.StartWorkspace():
            s = _need(state, command, workspace_id)
            if s.status not in ("stopped", "failed"):
                raise _refuse(command, s)
            if s.host_id is None:
                raise _refuse(command, s, "it was never placed on a host")
            quota.check(command.quota, s.spec.resources, live=True, running=True)
            return [w.WorkspaceStartRequested(command_id=command_id)]
        case c.StopWorkspace():
            s = _need(state, command, workspace_id)
            if s.status != "running":
                raise _refuse(command, s)
            return [w.WorkspaceStopRequested(command_id=command_id, reason=command.reason, force=command.force)]
        case c.RestartWorkspace():
            s = _need(state, command, workspace_id)
            if s.status != "running":
                raise _refuse(command, s)
            return [w.WorkspaceRestartRequested(command_id=command_id)]
        case c.RebuildWorkspace():
            s = _need(state, command, workspace_id)
            if s.status not in ("running", "stopped", "failed"):
                raise _refuse(command, s)
            if s.host_id is None:
                raise _refuse(command, s, "it was never placed on a host")
            quota.check(command.quota, (command.spec or s.spec).resources, live=True, running=True)
            return [
                w.WorkspaceRebuildRequested(
                    command_id=command_id, generation=s.generation + 1, spec=command.spec or s.spec
                )
            ]
        case c.DeleteWorkspace():
            s = _need(state, command, workspace_id)
            if s.status == "deleting":
                raise _refuse(command, s, "a delete is already under way")
            return [w.WorkspaceDeleteRequested(command_id=command_id)]
        case c.GrantWorkspaceAccess():
            s = _need(state, command, workspace_id)
            if s.grants.get(command.subject) == command.level:
                return []  # already so: no new fact
            return [w.WorkspaceAccessGranted(subject=command.subject, level=command.level)]
        case c.RevokeWorkspaceAccess():
            s = _need(state, command, workspace_id)
            if command.subject not in s.grants:
                return []
            return [w.WorkspaceAccessRevoked(subject=command.subject)]
        case c.SharePort():
            s = _need(state, command, workspace_id)
            if not 1 <= command.port <= 65535:
                raise ShareInvalid("port", "between 1 and 65535")
            if command.expires_at <= command.now:
                raise ShareInvalid("expires_at", "must be in the future")
            live = [x for x in s.shares.values() if x.expires_at > command.now]
            if len(live) >= MAX_SHARES:
                raise _refuse(command, s, f"at most {MAX_SHARES} shared ports per workspace")
            return [
                w.WorkspacePortShared(
                    share_id=command.share_id, port=command.port, level=command.level, expires_at=command.expires_at
                )
            ]
        case c.ExtendShare():
            s = _need(state, command, workspace_id)
            share = s.shares.get(command.share_id)
            if share is None or share.expires_at <= command.now:
                raise ShareNotFound(command.share_id)
            if command.expires_at <= command.now:
                raise ShareInvalid("expires_at", "must be in the future")
            return [w.WorkspacePortShareExtended(share_id=command.share_id, expires_at=command.expires_at)]
        case c.Unshare():
            if state is None:
                raise WorkspaceNotFound(workspace_id or "unknown")
            share = state.shares.get(command.share_id)
            if share is None:
                raise ShareNotFound(command.share_id)
            if command.reason == "expired" and share.expires_at > command.now:
                return []  # extended meanwhile: not expired after all
            return [w.WorkspacePortUnshared(share_id=command.share_id, reason=command.reason)]
        case c.WarnIdle():
            s = _need(state, command, workspace_id)
            if s.status != "running":
                raise _refuse(command, s, "only running workspaces are warned")
            return [
                w.WorkspaceIdleWarning(
                    idle_since=command.idle_since, stop_at=command.stop_at, last_signal=command.last_signal
                )
            ]
        case c.TimeOutOperation():
            s = _need(state, command, workspace_id)
            if s.status not in TRANSITIONAL or s.last_command_id != command.command_id or s.last_operation is None:
                raise _refuse(command, s, "nothing of that command is in flight")
            return [
                w.WorkspaceOperationTimedOut(
                    command_id=command.command_id,
                    operation=s.last_operation,
                    error=ErrorInfo(code="host_timeout", message=command.message, retryable=True),
                )
            ]
        case _:
            assert_never(command)


def _ordered(
    s: WorkspaceState, env: Envelope, status: WorkspaceStatus, command_id: uuid.UUID, op: Operation
) -> WorkspaceState:
    return msgspec.structs.replace(
        s,
        status=status,
        last_command_id=command_id,
        last_operation=op,
        updated_at=env.occurred_at,
        status_changed_at=env.occurred_at if status != s.status else s.status_changed_at,
        ready=False,
        degraded=False,
        failed_steps=[],
    )


def _moved(s: WorkspaceState, env: Envelope, status: WorkspaceStatus, **changes: object) -> WorkspaceState:
    return msgspec.structs.replace(
        s,
        status=status,
        updated_at=env.occurred_at,
        status_changed_at=env.occurred_at if status != s.status else s.status_changed_at,
        **changes,
    )


def evolve(state: WorkspaceState | None, env: Envelope) -> WorkspaceState | None:
    """Apply one stored event. Total: a late or foreign outcome changes only ``version``."""
    event = env.data
    version = env.stream_version or ((state.version + 1) if state else 1)
    if isinstance(event, w.WorkspaceCreated):
        return WorkspaceState(
            workspace_id=event.workspace_id,
            org_id=env.org_id,
            name=event.name,
            owner_id=event.owner_id,
            spec=event.spec,
            status="pending",
            version=version,
            requested_host=event.requested_host,
            created_at=env.occurred_at,
            updated_at=env.occurred_at,
            status_changed_at=env.occurred_at,
        )
    if state is None or not w.is_workspace_event(event):
        return state
    s = msgspec.structs.replace(state, version=version)
    match event:
        case w.WorkspaceScheduled():
            s = _ordered(s, env, "scheduled", event.command_id, "provision")
            return msgspec.structs.replace(s, host_id=event.host_id, generation=s.generation + 1, last_error=None)
        case w.WorkspaceStartRequested():
            return _ordered(s, env, "starting", event.command_id, "start")
        case w.WorkspaceStopRequested():
            return _ordered(s, env, "stopping", event.command_id, "stop")
        case w.WorkspaceRestartRequested():
            return _ordered(s, env, "stopping", event.command_id, "restart")
        case w.WorkspaceRebuildRequested():
            s = _ordered(s, env, "provisioning", event.command_id, "rebuild")
            return msgspec.structs.replace(s, generation=event.generation, spec=event.spec)
        case w.WorkspaceDeleteRequested():
            if s.host_id is None:  # never placed: nothing exists on any host
                return _ordered(s, env, "deleted", event.command_id, "delete")
            return _ordered(s, env, "deleting", event.command_id, "delete")
        case w.WorkspaceOperationStarted():
            if event.command_id == s.last_command_id and event.operation == "provision" and s.status == "scheduled":
                return _moved(s, env, "provisioning")
            return s
        case w.WorkspaceRestartStopped():
            if event.command_id == s.last_command_id and s.status == "stopping":
                return _moved(s, env, "starting")
            return s
        case w.WorkspaceOperationTimedOut() | w.WorkspaceCommandRejected():
            if event.command_id == s.last_command_id and s.status in TRANSITIONAL:
                return _moved(s, env, "failed", last_error=event.error)
            return s
        case (
            w.WorkspaceProvisionSucceeded()
            | w.WorkspaceStartSucceeded()
            | w.WorkspaceRestartSucceeded()
            | w.WorkspaceRebuildSucceeded()
        ):
            if event.command_id != s.last_command_id or s.status == "deleted":
                return s
            return _moved(
                s,
                env,
                "running",
                container_id=event.container_id,
                last_error=None,
                image=event.image or s.spec.image,
                ide_port=event.ide_port,
            )
        case w.WorkspaceStopSucceeded():
            if event.command_id != s.last_command_id:
                return s
            return _moved(s, env, "stopped", last_error=None, ready=False)
        case w.WorkspaceDeleteSucceeded():
            if event.command_id != s.last_command_id:
                return s
            return _moved(s, env, "deleted", container_id=None, last_error=None)
        case (
            w.WorkspaceProvisionFailed()
            | w.WorkspaceStartFailed()
            | w.WorkspaceStopFailed()
            | w.WorkspaceRestartFailed()
            | w.WorkspaceRebuildFailed()
            | w.WorkspaceDeleteFailed()
        ):
            if event.command_id != s.last_command_id or s.status == "deleted":
                return s
            return _moved(s, env, "failed", last_error=event.error)
        case w.WorkspaceAccessGranted():
            return msgspec.structs.replace(s, grants={**s.grants, event.subject: event.level})
        case w.WorkspaceAccessRevoked():
            return msgspec.structs.replace(s, grants={k: v for k, v in s.grants.items() if k != event.subject})
        case w.WorkspacePortShared():
            share = PortShare(port=event.port, level=event.level, expires_at=event.expires_at)
            return msgspec.structs.replace(s, shares={**s.shares, event.share_id: share})
        case w.WorkspacePortShareExtended():
            old = s.shares.get(event.share_id)
            if old is None:
                return s
            new = msgspec.structs.replace(old, expires_at=event.expires_at)
            return msgspec.structs.replace(s, shares={**s.shares, event.share_id: new})
        case w.WorkspacePortUnshared():
            return msgspec.structs.replace(s, shares={k: v for k, v in s.shares.items() if k != event.share_id})
        case w.WorkspaceIdleWarning():
            return s
        case w.WorkspaceObserved():
            return msgspec.structs.replace(s, observed_status=event.runtime_status)
        case w.WorkspaceInitStepStarted() | w.WorkspaceInitStepSucceeded():
            return s
        case w.WorkspaceInitStepFailed():
            if event.run_id != s.last_command_id:
                return s
            return msgspec.structs.replace(s, failed_steps=[*s.failed_steps, f"{event.step}:{event.name}"])
        case w.WorkspaceInitFinished():
            # may arrive before the operation's own outcome (a fast init): the run id decides
            if event.run_id != s.last_command_id:
                return s
            return msgspec.structs.replace(
                s, ready=True, degraded=event.degraded, failed_steps=event.failed_steps, updated_at=env.occurred_at
            )
        case w.WorkspaceDevcontainerApplied():
            return msgspec.structs.replace(s, devcontainer=event.source, devcontainer_error=None)
        case w.WorkspaceDevcontainerInvalid():
            return msgspec.structs.replace(s, devcontainer=event.source, devcontainer_error=event.message)
        case _:
            assert_never(event)


def fold(envelopes: list[Envelope]) -> WorkspaceState | None:
    """The state after every event of one stream, in order."""
    state: WorkspaceState | None = None
    for env in envelopes:
        state = evolve(state, env)
    return state


def dispatch(state: WorkspaceState, event: EventData) -> c.AgentCommand | None:
    """The order the host must receive for a freshly decided ``event`` (``state`` is after it)."""
    name, owner, gen, spec = state.name, state.owner_id, state.generation, state.spec
    match event:
        case w.WorkspaceScheduled():
            return c.AgentProvision(name=name, owner_id=owner, generation=gen, spec=spec)
        case w.WorkspaceStartRequested():
            return c.AgentStart(name=name, owner_id=owner, generation=gen, spec=spec)
        case w.WorkspaceStopRequested():
            return c.AgentStop(timeout_s=0.0) if event.force else c.AgentStop()
        case w.WorkspaceRestartRequested():
            return c.AgentRestart(name=name, owner_id=owner, generation=gen, spec=spec)
        case w.WorkspaceRebuildRequested():
            return c.AgentRebuild(name=name, owner_id=owner, generation=gen, spec=spec)
        case w.WorkspaceDeleteRequested():
            return None if state.status == "deleted" else c.AgentDelete()
        case _:
            return None
