"""In-memory ``WorkspaceRuntime`` for unit and integration tests of the agent's logic
(never for end-to-end tests, which use real Podman)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import msgspec

from wws_provisioner.errors import ImageNotFound, ProvisionerError
from wws_provisioner.plan import ContainerPlan
from wws_provisioner.runtime.base import ContainerInfo, VolumeInfo, container_name, volume_name


class FakeRuntime:
    def __init__(self, images: list[str] | None = None) -> None:
        self.containers: dict[uuid.UUID, ContainerInfo] = {}
        self.plans: dict[uuid.UUID, ContainerPlan] = {}
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

    def _create(self, plan: ContainerPlan) -> ContainerInfo:
        self._n += 1
        self.volume_set.setdefault(
            volume_name(plan.workspace_id),
            VolumeInfo(
                workspace_id=plan.workspace_id, name=volume_name(plan.workspace_id), created_at=datetime.now(UTC)
            ),
        )
        self.plans[plan.workspace_id] = plan
        return ContainerInfo(
            workspace_id=plan.workspace_id,
            container_id=f"c{self._n}",
            name=container_name(plan.workspace_id),
            status="running",
            generation=plan.generation,
            command_id=plan.command_id,
            created_at=datetime.now(UTC),
            image=plan.image,
            devcontainer_key=plan.devcontainer_key,
        )

    async def ensure_running(self, plan: ContainerPlan) -> str:
        self.calls.append(("ensure_running", plan.workspace_id))
        if self.block is not None:
            await self.block.wait()
        self._maybe_fail()
        current = self.containers.get(plan.workspace_id)
        if (
            current is None
            or current.generation != plan.generation
            or current.devcontainer_key != plan.devcontainer_key
        ):
            current = self._create(plan)
        self.containers[plan.workspace_id] = msgspec.structs.replace(current, status="running")
        return current.container_id

    async def replace(self, plan: ContainerPlan) -> str:
        self.calls.append(("replace", plan.workspace_id))
        self._maybe_fail()
        self.containers[plan.workspace_id] = self._create(plan)
        return self.containers[plan.workspace_id].container_id

    async def describe(self, workspace_id: uuid.UUID) -> ContainerInfo | None:
        return self.containers.get(workspace_id)

    async def stop(self, workspace_id: uuid.UUID, timeout: float) -> str | None:
        self.calls.append(("stop", workspace_id))
        self._maybe_fail()
        ct = self.containers.get(workspace_id)
        if ct is None:
            return None
        self.containers[workspace_id] = msgspec.structs.replace(ct, status="exited")
        return ct.container_id

    async def remove(self, workspace_id: uuid.UUID, timeout: float) -> None:
        self.calls.append(("remove", workspace_id))
        self._maybe_fail()
        self.containers.pop(workspace_id, None)
        self.volume_set.pop(volume_name(workspace_id), None)

    async def remove_volume(self, name: str) -> None:
        self.volume_set.pop(name, None)

    async def volume_path(self, workspace_id: uuid.UUID) -> str | None:
        return None

    async def container_pid(self, workspace_id: uuid.UUID) -> int | None:
        return None  # fake containers have no processes

    async def image_labels(self, image: str) -> dict[str, str]:
        if image not in self.image_set:
            raise ImageNotFound(image)
        return {}  # a plain image: no WWS init runs in fake containers

    async def build_image(
        self, *, context: str, dockerfile: str, tag: str, args: dict[str, str], target: str | None
    ) -> str:
        self.image_set.add(tag)
        return tag

    async def inventory(self) -> list[ContainerInfo]:
        return list(self.containers.values())

    async def volumes(self) -> list[VolumeInfo]:
        return list(self.volume_set.values())

    async def images(self) -> list[str]:
        return sorted(self.image_set)

    async def storage_gb(self) -> int:
        return 100
