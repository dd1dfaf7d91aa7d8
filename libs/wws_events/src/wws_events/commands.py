"""Commands: what callers ask of a workspace (input to ``decide``) and what the control
plane orders a host agent to do (published on ``wws.cmd.host.<host_id>``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from wws_events._base import CommandData, CommandHead
from wws_events.quota import QuotaCheck
from wws_events.workspace import GrantLevel, ShareLevel, WorkspaceSpec

# ---------------------------------------------------------------- workspace commands (decide input)


class CreateWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.create"):
    workspace_id: uuid.UUID
    name: str
    owner_id: str
    spec: WorkspaceSpec
    requested_host: str | None = None
    placement: str | None = None
    """Host chosen by the scheduler at request time; None leaves the workspace pending."""
    placement_reason: str = ""
    quota: QuotaCheck | None = None
    """Budgets read under the append lock (None: not subject to quotas)."""


class ScheduleWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.schedule"):
    host_id: str
    reason: str


class StartWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.start"):
    quota: QuotaCheck | None = None


class StopWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.stop"):
    reason: str | None = None
    force: bool = False


class RestartWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.restart"):
    pass


class RebuildWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.rebuild"):
    spec: WorkspaceSpec | None = None
    """The spec to rebuild from; None keeps the current one."""
    quota: QuotaCheck | None = None


class DeleteWorkspace(CommandData, frozen=True, kw_only=True, tag="workspace.delete"):
    pass


class GrantWorkspaceAccess(CommandData, frozen=True, kw_only=True, tag="workspace.grant"):
    subject: str
    level: GrantLevel


class RevokeWorkspaceAccess(CommandData, frozen=True, kw_only=True, tag="workspace.revoke"):
    subject: str


class SharePort(CommandData, frozen=True, kw_only=True, tag="workspace.share_port"):
    share_id: str
    port: int
    level: ShareLevel
    expires_at: datetime
    now: datetime


class ExtendShare(CommandData, frozen=True, kw_only=True, tag="workspace.extend_share"):
    share_id: str
    expires_at: datetime
    now: datetime


class Unshare(CommandData, frozen=True, kw_only=True, tag="workspace.unshare"):
    share_id: str
    reason: Literal["revoked", "expired"]
    now: datetime


class WarnIdle(CommandData, frozen=True, kw_only=True, tag="workspace.warn_idle"):
    idle_since: datetime
    stop_at: datetime
    last_signal: str


class TimeOutOperation(CommandData, frozen=True, kw_only=True, tag="workspace.time_out"):
    """Supervisor: give up on the in-flight command ``command_id``."""

    command_id: uuid.UUID
    message: str


WorkspaceCommand = (
    CreateWorkspace
    | ScheduleWorkspace
    | StartWorkspace
    | StopWorkspace
    | RestartWorkspace
    | RebuildWorkspace
    | DeleteWorkspace
    | GrantWorkspaceAccess
    | RevokeWorkspaceAccess
    | SharePort
    | ExtendShare
    | Unshare
    | WarnIdle
    | TimeOutOperation
)

# ---------------------------------------------------------------- agent orders (on the bus)


class AgentProvision(CommandData, frozen=True, kw_only=True, tag="agent.provision"):
    """Create the home volume and the container for ``generation`` and start it."""

    name: str
    owner_id: str
    generation: int
    spec: WorkspaceSpec


class AgentStart(CommandData, frozen=True, kw_only=True, tag="agent.start"):
    """Start the existing container; recreate it from ``spec`` if it is gone."""

    name: str
    owner_id: str
    generation: int
    spec: WorkspaceSpec


class AgentStop(CommandData, frozen=True, kw_only=True, tag="agent.stop"):
    timeout_s: float = 10.0


class AgentRestart(CommandData, frozen=True, kw_only=True, tag="agent.restart"):
    name: str
    owner_id: str
    generation: int
    spec: WorkspaceSpec
    timeout_s: float = 10.0


class AgentRebuild(CommandData, frozen=True, kw_only=True, tag="agent.rebuild"):
    """Replace the container with a new one of ``generation``; the home volume stays."""

    name: str
    owner_id: str
    generation: int
    spec: WorkspaceSpec


class AgentDelete(CommandData, frozen=True, kw_only=True, tag="agent.delete"):
    """Remove the container and the home volume."""

    timeout_s: float = 10.0


AgentCommand = AgentProvision | AgentStart | AgentStop | AgentRestart | AgentRebuild | AgentDelete


class CommandEnvelope(CommandHead, frozen=True, kw_only=True):
    """A decoded agent command."""

    data: AgentCommand


def operation_of(command: AgentCommand) -> str:
    """The workspace operation an agent order performs (the prefix of its outcome event)."""
    tag = type(command).__struct_config__.tag
    assert isinstance(tag, str)
    return tag.removeprefix("agent.")


__all__ = [
    "AgentCommand",
    "AgentDelete",
    "AgentProvision",
    "AgentRebuild",
    "AgentRestart",
    "AgentStart",
    "AgentStop",
    "CommandEnvelope",
    "CreateWorkspace",
    "DeleteWorkspace",
    "RebuildWorkspace",
    "RestartWorkspace",
    "ScheduleWorkspace",
    "StartWorkspace",
    "StopWorkspace",
    "TimeOutOperation",
    "WorkspaceCommand",
    "operation_of",
]
