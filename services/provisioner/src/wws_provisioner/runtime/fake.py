"""In-memory ``WorkspaceRuntime`` for unit tests of the agent's logic (never for
integration or end-to-end tests, which use real Podman)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from wws_provisioner.errors import ProvisionerError
from wws_provisioner.runtime.base import ContainerInfo, Placement, VolumeInfo, container_name, volume_name


class FakeRuntime:
    def __init__(self, images: list[str] | None = None) -> None:
        self.containers: dict[uuid.UUID, ContainerInfo] = {}
        self.volume_set: dict[str, VolumeInfo] = {}
        self.image_set = set(images or ["localhost/wws-base:bookworm"])
        self.calls: list[tuple[str, uuid.UUID]] = []
        self.fail_next: ProvisionerError | None = None
        self.block: asyncio.Event | None = None
        self._n = 0

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    async def ensure_running(self, placement: Placement) -> str:
        self.calls.append(("ensure_running", placement.workspace_id))
        if self.block is not None:
            await self.block.wait()
        self._maybe_fail()
        current = self.containers.get(placement.workspace_id)
        if current is None or current.generation != placement.generation:
            self._n += 1
            self.volume_set.setdefault(
                volume_name(placement.workspace_id),
                VolumeInfo(
                    workspace_id=placement.workspace_id,
                    name=volume_name(placement.workspace_id),
                    created_at=datetime.now(UTC),
                ),
            )
            current = ContainerInfo(
                workspace_id=placement.workspace_id,
                container_id=f"c{self._n}",
                name=container_name(placement.workspace_id),
                status="running",
                generation=placement.generation,
                command_id=placement.command_id,
                created_at=datetime.now(UTC),
            )
        self.containers[placement.workspace_id] = ContainerInfo(
            **{**{f: getattr(current, f) for f in current.__struct_fields__}, "status": "running"}
        )
        return current.container_id

    async def stop(self, workspace_id: uuid.UUID, timeout: float) -> str | None:
        self.calls.append(("stop", workspace_id))
        self._maybe_fail()
        ct = self.containers.get(workspace_id)
        if ct is None:
            return None
        self.containers[workspace_id] = ContainerInfo(
            **{**{f: getattr(ct, f) for f in ct.__struct_fields__}, "status": "exited"}
        )
        return ct.container_id

    async def remove(self, workspace_id: uuid.UUID, timeout: float) -> None:
        self.calls.append(("remove", workspace_id))
        self._maybe_fail()
        self.containers.pop(workspace_id, None)
        self.volume_set.pop(volume_name(workspace_id), None)

    async def remove_volume(self, name: str) -> None:
        self.volume_set.pop(name, None)

    async def inventory(self) -> list[ContainerInfo]:
        return list(self.containers.values())

    async def volumes(self) -> list[VolumeInfo]:
        return list(self.volume_set.values())

    async def images(self) -> list[str]:
        return sorted(self.image_set)

    async def storage_gb(self) -> int:
        return 100
