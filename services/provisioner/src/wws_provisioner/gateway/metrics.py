"""Resource samples of the running workspaces (CPU, memory, network, processes, uptime,
disk) kept for a while, and ``GET /w/<id>/metrics`` serving them.

Podman's stats come through podman-py, which is synchronous (a worker thread), with these
quirks of podman-py 5.x against Podman 4.3: ``Container.stats(stream=False)`` gives raw
bytes unless ``decode=True`` too (the docs say ``decode`` is for streams); the libpod answer
is ``{"Error": ..., "Stats": [...]}`` and a failure is a *200* with ``"Error": {}`` (a Go
error marshalled empty) and ``"Stats": null``, so one stopped container fails a call asking
for several (hence one call per container); its ``UpTime`` is the CPU time (equal to
``CPUNano``), so uptime comes from ``State.StartedAt``; its ``CPU`` is the average since
the start, so the percentage is computed here from ``CPUNano`` between two samples."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import deque
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
import podman.errors
import structlog
from litestar import Request, Router, get
from litestar.params import FromPath, FromQuery
from podman import PodmanClient

from wws_provisioner.gateway.context import GatewayContext, GatewayError, claims_of, require
from wws_provisioner.gateway.usage import CpuReading, cpu_limit, cpu_percents, disk_usage
from wws_provisioner.runtime.base import WorkspaceRuntime, container_name, volume_name
from wws_provisioner.runtime.podman import _parse_time, _state
from wws_provisioner.settings import ProvisionerSettings
from wws_service.clock import Clock, SystemClock
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.gateway.metrics")

DISK_INTERVAL_S = 60.0
"""Walking a home directory of many files takes a while: at most once per this."""
LABEL_DISK_GB = "wws.disk_gb"


class MetricsSample(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    cpu_percent: float
    """Of the host's CPUs, since the previous sample (the first: since the start)."""
    cpu_limit_percent: float | None
    """Of the workspace's own CPU limit (None: no limit known)."""
    memory_bytes: int
    memory_limit_bytes: int
    disk_bytes: int | None
    """The home volume's allocated bytes, measured at most once a minute (None: no volume)."""
    disk_limit_bytes: int | None
    net_rx_bytes: int
    net_tx_bytes: int
    pids: int
    uptime_s: float


class MetricsView(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    current: MetricsSample | None
    """The latest sample; None when the workspace does not run."""
    history: list[MetricsSample]
    """Oldest first, the current one last (empty when not asked for)."""


class _Disk(NamedTuple):
    measured_at: float
    used: int | None
    limit: int | None


class _Raw(NamedTuple):
    container_id: str
    started: datetime | None
    limit_cpus: float | None
    stats: dict[str, Any]


class MetricsSampler:
    def __init__(
        self,
        runtime: WorkspaceRuntime,
        settings: ProvisionerSettings,
        *,
        client: PodmanClient | None = None,
        clock: Clock | None = None,
        disk_interval_s: float = DISK_INTERVAL_S,
    ) -> None:
        self.runtime = runtime
        self.interval_s = settings.metrics_interval_s
        self.keep = settings.metrics_history
        self.disk_interval_s = disk_interval_s
        self.clock = clock or SystemClock()
        self._own_client = client is None
        self.client = client or PodmanClient(base_url=settings.podman_url, timeout=30)
        self.host_cpus = os.cpu_count() or 1
        self._history: dict[uuid.UUID, deque[MetricsSample]] = {}
        self._cpu: dict[uuid.UUID, tuple[str, CpuReading]] = {}
        """The last CPU reading per workspace, with the container id it is of."""
        self._disk: dict[uuid.UUID, _Disk] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def close(self) -> None:
        if self._own_client:
            self.client.close()  # type: ignore[no-untyped-call]

    def current(self, workspace_id: uuid.UUID) -> MetricsSample | None:
        kept = self._history.get(workspace_id)
        return kept[-1] if kept else None

    def history(self, workspace_id: uuid.UUID) -> list[MetricsSample]:
        return list(self._history.get(workspace_id, ()))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample_all()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("gateway.metrics_round_failed", error=str(exc))
            await wait_any(stop, timeout=self.interval_s)

    async def sample_all(self) -> int:
        """One sample of every running workspace; forgets the others. Returns the count."""
        running = [c.workspace_id for c in await self.runtime.inventory() if c.status == "running"]
        for store in (self._history, self._cpu, self._disk, self._locks):
            for gone in store.keys() - set(running):
                del store[gone]
        taken = 0
        for ws in running:
            try:
                taken += await self.sample(ws) is not None
            except Exception as exc:  # noqa: BLE001 - one workspace's failure is not the others'
                log.warning("gateway.metrics_sample_failed", workspace_id=str(ws), error=str(exc))
        return taken

    async def sample(self, workspace_id: uuid.UUID) -> MetricsSample | None:
        """Sample one workspace now and keep it; None when it does not run."""
        async with self._locks.setdefault(workspace_id, asyncio.Lock()):
            disk = await self._disk_of(workspace_id)
            raw = await asyncio.to_thread(self._read, workspace_id)
            if raw is None:
                return None
            sample = self._build(workspace_id, raw, disk)
            self._history.setdefault(workspace_id, deque(maxlen=self.keep)).append(sample)
            return sample

    def _read(self, workspace_id: uuid.UUID) -> _Raw | None:
        try:
            ct = self.client.containers.get(container_name(workspace_id))
        except podman.errors.NotFound:
            return None
        if _state(ct.attrs) != "running":
            return None
        answer = ct.stats(stream=False, decode=True)
        if not isinstance(answer, dict) or not answer.get("Stats") or answer.get("Error") is not None:
            # a container that stopped a moment ago, or Podman lost track of it
            raise RuntimeError(f"podman stats of {ct.name} failed: {str(answer)[:200]}")
        return _Raw(
            container_id=str(ct.id),
            started=_parse_time((ct.attrs.get("State") or {}).get("StartedAt")),
            limit_cpus=cpu_limit(ct.attrs.get("HostConfig") or {}),
            stats=answer["Stats"][0],
        )

    def _build(self, workspace_id: uuid.UUID, raw: _Raw, disk: _Disk | None) -> MetricsSample:
        st = raw.stats
        now = CpuReading(int(st.get("CPUNano") or 0), int(st.get("SystemNano") or time.time_ns()))
        last = self._cpu.get(workspace_id)
        started_ns = int(raw.started.timestamp() * 1e9) if raw.started else None
        host_pct, limit_pct = cpu_percents(
            last[1] if last and last[0] == raw.container_id else None,
            now,
            started_ns=started_ns,
            host_cpus=self.host_cpus,
            limit_cpus=raw.limit_cpus,
        )
        self._cpu[workspace_id] = (raw.container_id, now)
        at = self.clock.now()
        return MetricsSample(
            at=at,
            cpu_percent=host_pct,
            cpu_limit_percent=limit_pct,
            memory_bytes=int(st.get("MemUsage") or 0),
            memory_limit_bytes=int(st.get("MemLimit") or 0),
            disk_bytes=disk.used if disk else None,
            disk_limit_bytes=disk.limit if disk else None,
            net_rx_bytes=int(st.get("NetInput") or 0),
            net_tx_bytes=int(st.get("NetOutput") or 0),
            pids=int(st.get("PIDs") or 0),
            uptime_s=round(max((at - raw.started).total_seconds(), 0.0), 3) if raw.started else 0.0,
        )

    async def _disk_of(self, workspace_id: uuid.UUID) -> _Disk | None:
        known = self._disk.get(workspace_id)
        if known is not None and time.monotonic() - known.measured_at < self.disk_interval_s:
            return known
        measured = await asyncio.to_thread(self._measure_disk, workspace_id)
        if measured is not None:
            self._disk[workspace_id] = measured
        return measured

    def _measure_disk(self, workspace_id: uuid.UUID) -> _Disk | None:
        try:
            attrs = self.client.volumes.get(volume_name(workspace_id)).attrs
        except podman.errors.NotFound:
            return None
        path = str(attrs.get("Mountpoint") or "")
        try:
            limit = int((attrs.get("Labels") or {}).get(LABEL_DISK_GB, "")) * 2**30
        except ValueError:
            limit = None
        return _Disk(measured_at=time.monotonic(), used=disk_usage(path) if path else None, limit=limit or None)


def metrics_router(ctx: GatewayContext, sampler: MetricsSampler) -> Router:
    """``GET /w/<id>/metrics[?history=false]`` (scope ``metrics``). A stopped workspace
    answers 200 with ``current: null`` rather than 409, so a dashboard polling it needs no
    error path; its history is what is still kept (the sampler forgets it at its next
    round). Looking at metrics is not activity: a dashboard left open must not keep a
    workspace alive."""

    @get("/w/{workspace_id:uuid}/metrics")
    async def metrics(
        request: Request[Any, Any, Any], workspace_id: FromPath[uuid.UUID], history: FromQuery[bool] = True
    ) -> MetricsView:
        require(claims_of(request.scope), workspace_id, "metrics")
        ref = await ctx.locate(workspace_id, need_running=False)
        current = sampler.current(workspace_id) if ref.running else None
        if ref.running and current is None:
            try:
                current = await sampler.sample(workspace_id)
            except Exception as exc:  # answered as unavailable, logged with the cause
                log.warning("gateway.metrics_sample_failed", workspace_id=str(workspace_id), error=str(exc))
                raise GatewayError(503, "the workspace's metrics are not available right now") from exc
        return MetricsView(
            workspace_id=workspace_id, current=current, history=sampler.history(workspace_id) if history else []
        )

    return Router(path="/", route_handlers=[metrics])
