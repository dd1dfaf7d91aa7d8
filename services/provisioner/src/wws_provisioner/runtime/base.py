"""The ``WorkspaceRuntime`` protocol: everything the agent needs from a container engine."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import msgspec

from wws_provisioner.plan import ContainerPlan

LABEL_MANAGED = "wws.managed"
LABEL_HOST = "wws.host"
LABEL_WORKSPACE = "wws.workspace"
LABEL_COMMAND = "wws.command"
LABEL_GENERATION = "wws.generation"
LABEL_OWNER = "wws.owner"
LABEL_NAME = "wws.name"
LABEL_DEVCONTAINER = "wws.devcontainer"


def container_name(workspace_id: uuid.UUID) -> str:
    return f"wws-{workspace_id}"


def volume_name(workspace_id: uuid.UUID) -> str:
    return f"wws-home-{workspace_id}"


class ContainerInfo(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    container_id: str
    name: str
    status: str
    """Podman's state: created, running, exited, ..."""
    generation: int
    command_id: uuid.UUID | None
    created_at: datetime | None
    image: str = ""
    devcontainer_key: str | None = None


class VolumeInfo(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    name: str
    created_at: datetime | None


class WorkspaceRuntime(Protocol):
    """Every method is idempotent: calling it twice has the effect of calling it once."""

    async def ensure_running(self, plan: ContainerPlan) -> str:
        """Make the container of ``plan`` exist and run: create the home volume if missing,
        replace a container of another generation or devcontainer image, create a missing
        one (start after loss), start a stopped one. Returns the container id."""
        ...

    async def replace(self, plan: ContainerPlan) -> str:
        """Remove the current container (the home volume stays) and run ``plan``."""
        ...

    async def describe(self, workspace_id: uuid.UUID) -> ContainerInfo | None: ...

    async def stop(self, workspace_id: uuid.UUID, timeout: float) -> str | None:
        """Stop the container if it runs; returns its id, None if there is none."""
        ...

    async def remove(self, workspace_id: uuid.UUID, timeout: float) -> None:
        """Remove the container and the home volume."""
        ...

    async def remove_volume(self, name: str) -> None: ...

    async def volume_path(self, workspace_id: uuid.UUID) -> str | None:
        """Where the home volume's files are on this host."""
        ...

    async def container_pid(self, workspace_id: uuid.UUID) -> int | None:
        """The host pid of the running container's first process (its namespaces are the
        workspace's); None when it does not run."""
        ...

    async def image_labels(self, image: str) -> dict[str, str]:
        """Labels of ``image`` (pulled if it is not local and not ``localhost/``)."""
        ...

    async def build_image(
        self, *, context: str, dockerfile: str, tag: str, args: dict[str, str], target: str | None
    ) -> str:
        """Build an image from a Dockerfile (relative to ``context``); returns ``tag``."""
        ...

    async def inventory(self) -> list[ContainerInfo]:
        """Containers of this host managed by WWS."""
        ...

    async def volumes(self) -> list[VolumeInfo]: ...

    async def images(self) -> list[str]: ...

    async def storage_gb(self) -> int:
        """Size of the filesystem holding container storage."""
        ...
