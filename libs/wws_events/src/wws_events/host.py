"""Host agent facts: registration, loss, orphan clean-up, and the heartbeat it keeps in KV."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from wws_events._base import EventData, Outcome


class HostCapacity(msgspec.Struct, frozen=True, kw_only=True):
    cpus: float
    memory_mb: int
    disk_gb: int


class HostRegistered(EventData, frozen=True, kw_only=True, tag="host.registered"):
    STREAM_TYPE: ClassVar[str] = "host"
    host_id: str
    agent_version: str
    runtime: str
    capacity: HostCapacity
    address: str | None = None
    pool_org: str | None = None
    """The organization whose workspaces this host runs; None: shared by all (wire v1.1)."""


class HostLost(EventData, frozen=True, kw_only=True, tag="host.lost"):
    """The control plane saw the heartbeat expire."""

    STREAM_TYPE: ClassVar[str] = "host"
    OUTCOME: ClassVar[Outcome] = "failure"
    host_id: str
    last_seen: datetime | None


class HostOrphanRemoved(EventData, frozen=True, kw_only=True, tag="host.orphan_removed"):
    """The agent removed a container or volume that no desired state wants."""

    STREAM_TYPE: ClassVar[str] = "host"
    host_id: str
    workspace_id: uuid.UUID | None
    resource: Literal["container", "volume"]
    name: str
    reason: str


class HostReconciled(EventData, frozen=True, kw_only=True, tag="host.reconciled"):
    """Summary of an agent's start-up reconcile."""

    STREAM_TYPE: ClassVar[str] = "host"
    host_id: str
    adopted: list[uuid.UUID]
    removed: list[str]
    desired_known: bool
    """False when the control plane could not be asked; then nothing was removed."""


HostEvent = HostRegistered | HostLost | HostOrphanRemoved | HostReconciled


class InventoryItem(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    container_id: str
    status: str
    generation: int
    command_id: uuid.UUID | None = None


class HostHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """Value of ``wws_hosts.<host_id>`` in KV; the bucket's TTL makes a silent host disappear."""

    host_id: str
    agent_version: str
    runtime: str
    started_at: datetime
    sent_at: datetime
    capacity: HostCapacity
    inventory: list[InventoryItem]
    images: list[str]
    address: str | None = None
    pool_org: str | None = None
    """The organization whose workspaces this host runs; None: shared by all (wire v1.1)."""


class DesiredWorkspace(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    status: str
    generation: int
    seq: int


class DesiredStateReply(msgspec.Struct, frozen=True, kw_only=True):
    """Control plane's answer to ``wws.ctl.desired.<host_id>``: what should exist there."""

    host_id: str
    workspaces: list[DesiredWorkspace]
    as_of_position: int


class SecretsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Agent → control plane (``wws.ctl.secrets.<host_id>``) when starting a workspace."""

    workspace_id: uuid.UUID


class InjectedSecret(msgspec.Struct, frozen=True, kw_only=True):
    """One of the workspace owner's secrets, for the workspace's tmpfs only."""

    name: str
    inject: Literal["env", "file"]
    target: str
    """Environment variable name, or a path relative to the home directory."""
    value: str

    def __repr__(self) -> str:
        return f"InjectedSecret(name={self.name!r}, inject={self.inject!r}, target={self.target!r})"


class SecretsReply(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID | None
    values: dict[str, str] = {}
    """Workspace secrets by file name (the repository token: ``git-token``)."""
    error: str | None = None
    user_secrets: list[InjectedSecret] = []
    """The owner's secrets (wire v1.1)."""

    def __repr__(self) -> str:  # values are secrets: never in a log line or a traceback
        names = sorted(self.values) + sorted(s.name for s in self.user_secrets)
        return f"SecretsReply(workspace_id={self.workspace_id}, names={names}, error={self.error!r})"
