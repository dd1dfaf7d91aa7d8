"""The ``WorkspaceRuntime`` protocol: everything the agent needs from a container engine."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import msgspec

from wws_events.workspace import WorkspaceSpec

LABEL_MANAGED = "wws.managed"
LABEL_HOST = "wws.host"
LABEL_WORKSPACE = "wws.workspace"
LABEL_COMMAND = "wws.command"
LABEL_GENERATION = "wws.generation"
LABEL_OWNER = "wws.owner"
LABEL_NAME = "wws.name"
HOME = "/home/dev"


def container_name(workspace_id: uuid.UUID) -> str:
    return f"wws-{workspace_id}"


def volume_name(workspace_id: uuid.UUID) -> str:
    return f"wws-home-{workspace_id}"


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies one container generation of a workspace on this host."""

    workspace_id: uuid.UUID
    name: str
    owner_id: str
    generation: int
    command_id: uuid.UUID
    spec: WorkspaceSpec


class ContainerInfo(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    container_id: str
    name: str
    status: str
    """Podman's state: created, running, exited, ..."""
    generation: int
    command_id: uuid.UUID | None
    created_at: datetime | None


class VolumeInfo(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    name: str
    created_at: datetime | None


class WorkspaceRuntime(Protocol):
    """Every method is idempotent: calling it twice has the effect of calling it once."""

    async def ensure_running(self, placement: Placement) -> str:
        """Make the container of ``placement.generation`` exist and run: create the home
        volume if missing, replace a container of another generation (rebuild), create a
        missing one (start after loss), start a stopped one. Returns the container id."""
        ...

    async def stop(self, workspace_id: uuid.UUID, timeout: float) -> str | None:
        """Stop the container if it runs; returns its id, None if there is none."""
        ...

    async def remove(self, workspace_id: uuid.UUID, timeout: float) -> None:
        """Remove the container and the home volume."""
        ...

    async def remove_volume(self, name: str) -> None: ...

    async def inventory(self) -> list[ContainerInfo]:
        """Containers of this host managed by WWS."""
        ...

    async def volumes(self) -> list[VolumeInfo]: ...

    async def images(self) -> list[str]: ...

    async def storage_gb(self) -> int:
        """Size of the filesystem holding container storage."""
        ...
