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
from wws_provisioner.plan import LOOPBACK_HOST, ContainerPlan
from wws_provisioner.runtime.base import (
    LABEL_COMMAND,
    LABEL_DEVCONTAINER,
    LABEL_GENERATION,
    LABEL_HOST,
    LABEL_MANAGED,
    LABEL_NAME,
    LABEL_OWNER,
    LABEL_WORKSPACE,
    ContainerInfo,
    VolumeInfo,
    container_name,
    volume_name,
)

log = structlog.get_logger("wws.runtime.podman")
T = TypeVar("T")

IMAGE_CACHE_S = 30.0


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


def _build_tail(log: Any) -> str:
    lines = []
    for item in log or []:
        text = item.get("stream", "") if isinstance(item, dict) else str(item)
        if text.strip():
            lines.append(text.strip())
    return " | ".join(lines)[-600:]


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

    def _labels(self, p: ContainerPlan) -> dict[str, str]:
        labels = {
            LABEL_MANAGED: "true",
            LABEL_HOST: self.host_id,
            LABEL_WORKSPACE: str(p.workspace_id),
            LABEL_COMMAND: str(p.command_id),
            LABEL_GENERATION: str(p.generation),
            LABEL_OWNER: p.owner_id,
            LABEL_NAME: p.name,
        }
        if p.devcontainer_key:
            labels[LABEL_DEVCONTAINER] = p.devcontainer_key
        return labels

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

    def _ensure_volume(self, p: ContainerPlan) -> str:
        name = volume_name(p.workspace_id)
        labels = {
            k: v for k, v in self._labels(p).items() if k in (LABEL_MANAGED, LABEL_HOST, LABEL_WORKSPACE, LABEL_OWNER)
        }
        labels["wws.disk_gb"] = str(p.resources.disk_gb)
        try:
            self._client.volumes.create(name, labels=labels)
        except podman.errors.APIError as exc:
            # "already exists" is the normal case on every start after the first
            if exc.status_code != 409 and not self._client.volumes.exists(name):
                raise RuntimeFailure(f"cannot create volume {name}: {exc.explanation}") from exc
        return name

    def _create(self, p: ContainerPlan) -> Any:
        self._image_labels(p.image)  # pulls a missing non-local image, or fails clearly
        volume = self._ensure_volume(p)
        r = p.resources
        kwargs: dict[str, Any] = {}
        if p.command is not None:
            kwargs["command"] = p.command
            kwargs["entrypoint"] = []
        if p.user:
            kwargs["user"] = p.user
        if p.network == "egress":
            kwargs["network_mode"] = "slirp4netns"
            if p.allow_host_loopback:
                kwargs["network_options"] = {"slirp4netns": ["allow_host_loopback=true"]}
                kwargs["extra_hosts"] = {LOOPBACK_HOST: "10.0.2.2"}
            if p.ports:
                kwargs["ports"] = {f"{c}/tcp": ("127.0.0.1", h) for c, h in p.ports.items()}
        else:
            kwargs["network_mode"] = "none"
        memory = f"{r.memory_mb}m"
        try:
            return self._client.containers.create(
                p.image,
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
                volumes={volume: {"bind": p.home, "mode": "rw"}},
                mounts=[
                    {"type": "bind", "source": m.source, "target": m.target, "read_only": m.read_only} for m in p.mounts
                ],
                environment=p.env,
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

    def _matches(self, ct: Any, p: ContainerPlan) -> bool:
        return self._generation(ct) == p.generation and ct.labels.get(LABEL_DEVCONTAINER) == p.devcontainer_key

    async def ensure_running(self, plan: ContainerPlan) -> str:
        def work() -> str:
            ct = self._get(plan.workspace_id)
            if ct is not None and not self._matches(ct, plan):
                self._remove_container(ct, 10)
                ct = None
            if ct is None:
                return self._start_checked(self._create(plan), fresh=True)
            return self._start_checked(ct)

        return await self._call(work)

    async def replace(self, plan: ContainerPlan) -> str:
        def work() -> str:
            ct = self._get(plan.workspace_id)
            if ct is not None:
                self._remove_container(ct, 10)
            return self._start_checked(self._create(plan), fresh=True)

        return await self._call(work)

    async def describe(self, workspace_id: uuid.UUID) -> ContainerInfo | None:
        def work() -> ContainerInfo | None:
            ct = self._get(workspace_id)
            return self._info(ct) if ct is not None else None

        return await self._call(work)

    def _info(self, ct: Any) -> ContainerInfo | None:
        try:
            ws = uuid.UUID(ct.labels.get(LABEL_WORKSPACE, ""))
        except ValueError:
            return None
        cmd = ct.labels.get(LABEL_COMMAND)
        image = ct.attrs.get("ImageName") or ct.attrs.get("Image") or ""
        return ContainerInfo(
            workspace_id=ws,
            container_id=str(ct.id),
            name=ct.name,
            status=_state(ct.attrs),
            generation=self._generation(ct),
            command_id=uuid.UUID(cmd) if cmd else None,
            created_at=_parse_time(ct.attrs.get("Created")),
            image=str(image),
            devcontainer_key=ct.labels.get(LABEL_DEVCONTAINER),
        )

    async def volume_path(self, workspace_id: uuid.UUID) -> str | None:
        def work() -> str | None:
            try:
                return str(self._client.volumes.get(volume_name(workspace_id)).attrs.get("Mountpoint") or "") or None
            except podman.errors.NotFound:
                return None

        return await self._call(work)

    async def container_pid(self, workspace_id: uuid.UUID) -> int | None:
        def work() -> int | None:
            ct = self._get(workspace_id)
            if ct is None:
                return None
            pid = int((ct.attrs.get("State") or {}).get("Pid") or 0)
            return pid or None

        return await self._call(work)

    async def image_labels(self, image: str) -> dict[str, str]:
        return await self._call(lambda: self._image_labels(image))

    async def build_image(
        self, *, context: str, dockerfile: str, tag: str, args: dict[str, str], target: str | None
    ) -> str:
        def work() -> str:
            kwargs: dict[str, Any] = {"path": context, "dockerfile": dockerfile, "tag": tag, "rm": True, "layers": True}
            if args:
                kwargs["buildargs"] = args
            if target:
                kwargs["target"] = target
            try:
                _, logs = self._client.images.build(**kwargs)
                for _line in logs:
                    pass
            except podman.errors.BuildError as exc:
                raise RuntimeFailure(
                    f"devcontainer image build failed: {exc.msg}: {_build_tail(exc.build_log)}"
                ) from exc
            self._image_cache.pop(tag, None)
            return tag

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
            return [info for ct in found if (info := self._info(ct)) is not None]

        return await self._call(work)

    async def volumes(self) -> list[VolumeInfo]:
        def work() -> list[VolumeInfo]:
            try:
                found = self._client.volumes.list(filters=self._label_filters())
            except podman.errors.APIError:
                # a volume removed while Podman was listing fails the whole list: ask again
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
