"""``WorkspaceRuntime`` on Podman's REST API through podman-py.

podman-py is synchronous; every call runs in a worker thread. Limits follow PLATFORM.md:
``cpu_period/cpu_quota`` (podman-py drops ``nano_cpus``), ``init=True`` so SIGTERM stops
the container at once, and no ``ulimits`` (any value replaces containers.conf's list).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import podman.errors
import requests
import structlog
from podman import PodmanClient

from wws_provisioner.errors import ContainerExited, ImageNotFound, RuntimeFailure, RuntimeUnavailable
from wws_provisioner.runtime.base import (
    HOME,
    LABEL_COMMAND,
    LABEL_GENERATION,
    LABEL_HOST,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_OWNER,
    LABEL_WORKSPACE,
    ContainerInfo,
    Placement,
    VolumeInfo,
    container_name,
    volume_name,
)

log = structlog.get_logger("wws.runtime.podman")
T = TypeVar("T")

# Images built by WWS run their own init (CMD); anything else gets the devcontainer
# "overrideCommand" treatment so a shell-default image stays up for people to use.
WWS_IMAGE_LABEL = "io.wws.image"
IMAGE_CACHE_S = 30.0
KEEPALIVE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while sleep 1000 & wait $!; do :; done"]


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Podman gives nanoseconds; datetime takes microseconds
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Podman reports volume times in the host's local zone without an offset
    return parsed if parsed.tzinfo else parsed.astimezone(UTC)


def _state(attrs: dict[str, Any]) -> str:
    """``State`` is a dict in inspect output but a plain string in list output."""
    state = attrs.get("State")
    if isinstance(state, dict):
        return str(state.get("Status", "unknown"))
    return str(state or "unknown")


class PodmanRuntime:
    def __init__(self, base_url: str, host_id: str, *, start_check_s: float = 0.5) -> None:
        self.base_url = base_url
        self.host_id = host_id
        self.start_check_s = start_check_s
        self._client = PodmanClient(base_url=base_url, timeout=120)
        self._image_cache: dict[str, tuple[float, dict[str, str]]] = {}

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    async def _call(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError) as exc:
            raise RuntimeUnavailable(f"Podman API at {self.base_url} is not reachable: {exc}") from exc
        except podman.errors.ImageNotFound as exc:
            raise ImageNotFound(str(exc)) from exc
        except podman.errors.APIError as exc:
            raise RuntimeFailure(f"podman: {exc.explanation or exc}") from exc

    # ------------------------------------------------------------------ helpers (sync)

    def _labels(self, p: Placement) -> dict[str, str]:
        return {
            LABEL_MANAGED: "true",
            LABEL_HOST: self.host_id,
            LABEL_WORKSPACE: str(p.workspace_id),
            LABEL_COMMAND: str(p.command_id),
            LABEL_GENERATION: str(p.generation),
            LABEL_OWNER: p.owner_id,
            LABEL_NAME: p.name,
        }

    def _label_filters(self) -> list[str]:
        # The list form: podman-py turns a dict value that is a list into one string
        # ("['a', 'b']"), which matches nothing.
        return [f"label={LABEL_MANAGED}=true", f"label={LABEL_HOST}={self.host_id}"]

    def _get(self, workspace_id: uuid.UUID) -> Any:
        try:
            return self._client.containers.get(container_name(workspace_id))
        except podman.errors.NotFound:
            return None

    def _image_labels(self, image: str) -> dict[str, str]:
        """Labels of ``image`` (pulling it when it is not local and not ``localhost/``).
        Cached briefly: it costs a round trip per create and changes only on a rebuild."""
        now = time.monotonic()
        hit = self._image_cache.get(image)
        if hit is not None and now - hit[0] < IMAGE_CACHE_S:
            return hit[1]
        try:
            img = self._client.images.get(image)
        except podman.errors.ImageNotFound:
            if image.startswith("localhost/"):
                raise ImageNotFound(image) from None
            try:
                img = self._client.images.pull(image)  # type: ignore[assignment]  # one image for one reference
            except (podman.errors.APIError, podman.errors.ImageNotFound) as exc:
                raise ImageNotFound(image, f"pull failed: {getattr(exc, 'explanation', exc)}") from exc
        labels = dict(img.labels or {})
        self._image_cache[image] = (now, labels)
        return labels

    def _ensure_volume(self, p: Placement) -> str:
        name = volume_name(p.workspace_id)
        labels = {
            k: v for k, v in self._labels(p).items() if k in (LABEL_MANAGED, LABEL_HOST, LABEL_WORKSPACE, LABEL_OWNER)
        }
        labels["wws.disk_gb"] = str(p.spec.resources.disk_gb)
        try:
            self._client.volumes.create(name, labels=labels)
        except podman.errors.APIError as exc:
            # "already exists" is the normal case on every start after the first
            if exc.status_code != 409 and not self._client.volumes.exists(name):
                raise RuntimeFailure(f"cannot create volume {name}: {exc.explanation}") from exc
        return name

    def _create(self, p: Placement) -> Any:
        labels = self._image_labels(p.spec.image)
        volume = self._ensure_volume(p)
        r = p.spec.resources
        kwargs: dict[str, Any] = {}
        if WWS_IMAGE_LABEL not in labels:
            kwargs["command"] = KEEPALIVE
            kwargs["entrypoint"] = []
        memory = f"{r.memory_mb}m"
        try:
            return self._client.containers.create(
                p.spec.image,
                name=container_name(p.workspace_id),
                hostname=p.name,
                labels=self._labels(p),
                init=True,
                mem_limit=memory,
                memswap_limit=memory,
                cpu_period=100_000,
                cpu_quota=max(1_000, int(r.cpu * 100_000)),
                pids_limit=r.pids,
                cap_drop=["ALL"],
                no_new_privileges=True,
                network_mode="none",
                volumes={volume: {"bind": HOME, "mode": "rw"}},
                environment={
                    "WWS_WORKSPACE_ID": str(p.workspace_id),
                    "WWS_WORKSPACE_NAME": p.name,
                    "WWS_GENERATION": str(p.generation),
                },
                stop_timeout=10,
                **kwargs,
            )
        except podman.errors.APIError as exc:
            if exc.status_code == 409 or "already in use" in str(exc.explanation):
                existing = self._get(p.workspace_id)
                if existing is not None:
                    return existing
            raise

    def _start_checked(self, ct: Any, *, fresh: bool = False) -> str:
        if not fresh:
            ct.reload()
        if fresh or ct.status != "running":
            ct.start()
        ct.reload()
        if ct.status != "running":
            code = int(ct.attrs.get("State", {}).get("ExitCode", -1))
            logs = b"".join(ct.logs(stdout=True, stderr=True, tail=20)).decode(errors="replace")
            raise ContainerExited(ct.name, code, logs)
        return str(ct.id)

    def _generation(self, ct: Any) -> int:
        try:
            return int(ct.labels.get(LABEL_GENERATION, "0"))
        except ValueError:
            return 0

    def _remove_container(self, ct: Any, timeout: float) -> None:
        with contextlib.suppress(podman.errors.NotFound):
            if ct.status == "running":
                ct.stop(timeout=int(timeout))
            ct.remove(force=True, v=False)

    # ------------------------------------------------------------------ protocol

    async def ensure_running(self, placement: Placement) -> str:
        def work() -> str:
            ct = self._get(placement.workspace_id)
            if ct is not None and self._generation(ct) != placement.generation:
                self._remove_container(ct, 10)
                ct = None
            if ct is None:
                return self._start_checked(self._create(placement), fresh=True)
            return self._start_checked(ct)

        return await self._call(work)

    async def stop(self, workspace_id: uuid.UUID, timeout: float) -> str | None:
        def work() -> str | None:
            ct = self._get(workspace_id)
            if ct is None:
                return None
            if ct.status == "running":
                ct.stop(timeout=int(timeout))
            return str(ct.id)

        return await self._call(work)

    async def remove(self, workspace_id: uuid.UUID, timeout: float) -> None:
        def work() -> None:
            ct = self._get(workspace_id)
            if ct is not None:
                self._remove_container(ct, timeout)
            self._remove_volume(volume_name(workspace_id))

        await self._call(work)

    def _remove_volume(self, name: str) -> None:
        with contextlib.suppress(podman.errors.NotFound):
            if self._client.volumes.exists(name):
                self._client.volumes.get(name).remove(force=True)

    async def remove_volume(self, name: str) -> None:
        await self._call(lambda: self._remove_volume(name))

    async def inventory(self) -> list[ContainerInfo]:
        def work() -> list[ContainerInfo]:
            found = self._client.containers.list(all=True, filters=self._label_filters())
            out = []
            for ct in found:
                try:
                    ws = uuid.UUID(ct.labels.get(LABEL_WORKSPACE, ""))
                except ValueError:
                    continue
                cmd = ct.labels.get(LABEL_COMMAND)
                out.append(
                    ContainerInfo(
                        workspace_id=ws,
                        container_id=str(ct.id),
                        name=ct.name,
                        status=_state(ct.attrs),
                        generation=self._generation(ct),
                        command_id=uuid.UUID(cmd) if cmd else None,
                        created_at=_parse_time(ct.attrs.get("Created")),
                    )
                )
            return out

        return await self._call(work)

    async def volumes(self) -> list[VolumeInfo]:
        def work() -> list[VolumeInfo]:
            found = self._client.volumes.list(filters=self._label_filters())
            out = []
            for vol in found:
                labels = vol.attrs.get("Labels") or {}
                try:
                    ws = uuid.UUID(labels.get(LABEL_WORKSPACE, ""))
                except ValueError:
                    continue
                out.append(
                    VolumeInfo(workspace_id=ws, name=vol.name, created_at=_parse_time(vol.attrs.get("CreatedAt")))
                )
            return out

        return await self._call(work)

    async def images(self) -> list[str]:
        def work() -> list[str]:
            return sorted({tag for img in self._client.images.list() for tag in (img.tags or [])})

        return await self._call(work)

    async def storage_gb(self) -> int:
        def work() -> int:
            info: dict[str, Any] = self._client.info()  # type: ignore[no-untyped-call]
            root = info.get("store", {}).get("graphRoot", "/var/lib/containers/storage")
            return int(shutil.disk_usage(root).total // 2**30)

        return await self._call(work)
