"""Activity: the gateway's handlers and the CPU watcher say "someone worked here"; the
recorder turns that into at most one ``WorkspaceActivityRecorded`` per workspace and
interval on NATS (the reaper stops workspaces nobody used for a while)."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import structlog

from wws_events.workspace import WorkspaceActivityRecorded
from wws_provisioner.emitter import Emitter
from wws_provisioner.gateway import procs
from wws_provisioner.gateway.context import ActivitySink
from wws_provisioner.runtime.base import WorkspaceRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.gateway.activity")

FORGET_AFTER = timedelta(days=1)
"""A workspace not noted for this long leaves the recorder's memory."""


def activity_cause(workspace_id: uuid.UUID, interval_s: float, bucket: int) -> str:
    """The cause fixing the event id of one workspace's activity in one interval. Spelled
    as the API spells it (``Service.activity``): an agent, its restart, another agent and
    the API's own endpoint all produce the same id for a bucket, and the copies die as
    duplicates (``Nats-Msg-Id``, then the event store's unique id)."""
    return f"activity:{workspace_id}:{interval_s}:{bucket}"


class _Note(NamedTuple):
    workspace_id: uuid.UUID
    org_id: str
    source: str
    bucket: int


class ActivityRecorder:
    """The gateway's :class:`ActivitySink`. Call :meth:`note` from the event loop's thread;
    :meth:`run` publishes."""

    def __init__(
        self, emitter: Emitter, settings: ProvisionerSettings, *, clock: Clock | None = None, queue_size: int = 1024
    ) -> None:
        self.emitter = emitter
        self.interval_s = settings.activity_interval_s
        self.clock = clock or emitter.clock
        self.last_noted: dict[uuid.UUID, datetime] = {}
        """When each workspace was last noted (any source), recorded or not."""
        self.recorded = 0
        self.dropped = 0
        self._claimed: dict[uuid.UUID, int] = {}
        """The bucket each workspace's event is queued or published for."""
        self._queue: asyncio.Queue[_Note] = asyncio.Queue(queue_size)
        self._pruned_at: datetime | None = None

    def bucket(self, at: datetime) -> int:
        return int(at.timestamp() // self.interval_s)

    def note(self, workspace_id: uuid.UUID, org_id: str, source: str) -> None:
        try:
            now = self.clock.now()
            self.last_noted[workspace_id] = now
            bucket = self.bucket(now)
            if self._claimed.get(workspace_id) == bucket:
                return
            self._queue.put_nowait(_Note(workspace_id, org_id, source, bucket))
            self._claimed[workspace_id] = bucket
        except asyncio.QueueFull:
            # NATS is stuck; the bucket stays unclaimed so a later note tries again
            self.dropped += 1
        except Exception as exc:  # noqa: BLE001 - activity is best effort: no request may fail for it
            log.warning("gateway.activity_note_failed", workspace_id=str(workspace_id), error=str(exc))

    async def run(self, stop: asyncio.Event) -> None:
        while (item := await self._next(stop)) is not None:
            await self._publish(item)
        if pending := self._queue.qsize():
            log.info("gateway.activity_unpublished", count=pending)

    async def _next(self, stop: asyncio.Event) -> _Note | None:
        if stop.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()
        # an item taken in the same instant as the stop is still published
        return getter.result() if getter.done() and not getter.cancelled() else None

    async def _publish(self, item: _Note) -> None:
        ws = item.workspace_id
        try:
            await self.emitter.emit(
                WorkspaceActivityRecorded(workspace_id=ws, source=item.source),
                stream_id=f"activity-{ws}",
                cause=activity_cause(ws, self.interval_s, item.bucket),
                org_id=item.org_id,
            )
            self.recorded += 1
        except Exception as exc:  # noqa: BLE001 - retried: the bucket is released for the next note
            log.warning("gateway.activity_publish_failed", workspace_id=str(ws), error=str(exc))
            if self._claimed.get(ws) == item.bucket:
                del self._claimed[ws]
        self._prune()

    def _prune(self) -> None:
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < FORGET_AFTER / 24:
            return
        self._pruned_at = now
        for ws in [ws for ws, at in self.last_noted.items() if now - at > FORGET_AFTER]:
            del self.last_noted[ws]
            self._claimed.pop(ws, None)


class _Look(NamedTuple):
    at: int
    """Ticks after boot."""
    namespace: int
    ticks: dict[tuple[int, int], int]
    """CPU ticks by (pid, start): a reused pid is another process."""


class CpuWatcher:
    """Notes ``cpu`` activity for a workspace where a process (not on the ignore list) used
    more than ``activity_cpu_threshold`` of a CPU between two looks: a build or a test run
    keeps the workspace alive although nobody types."""

    def __init__(
        self,
        runtime: WorkspaceRuntime,
        settings: ProvisionerSettings,
        dirs: WorkspaceDirs,
        sink: ActivitySink,
        *,
        proc_root: Path = Path("/proc"),
    ) -> None:
        self.runtime = runtime
        self.dirs = dirs
        self.sink = sink
        self.threshold = settings.activity_cpu_threshold
        self.interval_s = settings.activity_cpu_interval_s
        self.ignore = procs.ignore_patterns(settings.activity_cpu_ignore)
        self.proc_root = proc_root
        self.clk_tck = os.sysconf("SC_CLK_TCK")
        self._looks: dict[uuid.UUID, _Look] = {}
        self._lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        if self.threshold <= 0:
            log.info("gateway.cpu_watch_disabled")
            return
        while not stop.is_set():
            try:
                await self.look()
            except Exception as exc:  # noqa: BLE001 - the next look tries again
                log.warning("gateway.cpu_look_failed", error=str(exc))
            await wait_any(stop, timeout=self.interval_s)

    async def look(self) -> list[uuid.UUID]:
        """One look at every running workspace; notes and returns the busy ones."""
        async with self._lock:
            inits: dict[uuid.UUID, int] = {}
            for info in await self.runtime.inventory():
                if info.status == "running" and (pid := await self.runtime.container_pid(info.workspace_id)):
                    inits[info.workspace_id] = pid
            busy = await asyncio.to_thread(self._examine, inits)
        noted = []
        for ws, org_id in busy:
            self.sink.note(ws, org_id, "cpu")
            noted.append(ws)
        return noted

    def _examine(self, inits: dict[uuid.UUID, int]) -> list[tuple[uuid.UUID, str]]:
        now = procs.uptime_ticks(self.clk_tck, self.proc_root)
        namespaces = {
            ws: ns for ws, pid in inits.items() if (ns := procs.pid_namespace(pid, self.proc_root)) is not None
        }
        groups = procs.by_namespace(set(namespaces.values()), self.proc_root)
        busy = []
        for ws, ns in namespaces.items():
            current = groups.get(ns, [])
            last = self._looks.get(ws)
            self._looks[ws] = _Look(at=now, namespace=ns, ticks={(p.pid, p.start): p.ticks for p in current})
            # another namespace: the container was replaced or restarted, start over
            if last is None or last.namespace != ns or now <= last.at:
                continue
            if self._works(last, current, now) and (meta := self.dirs.run_meta(ws)) is not None:
                busy.append((ws, meta[0]))
        for gone in self._looks.keys() - namespaces.keys():
            del self._looks[gone]
        return busy

    def _works(self, last: _Look, current: list[procs.Proc], now: int) -> bool:
        candidates = procs.working(
            last.ticks,
            current,
            last_look=last.at,
            elapsed_s=(now - last.at) / self.clk_tck,
            threshold=self.threshold,
            clk_tck=self.clk_tck,
        )
        # the command line is read only for the few that grew busy
        return any(not procs.ignored(procs.read_cmdline(p, self.proc_root), self.ignore) for p in candidates)
