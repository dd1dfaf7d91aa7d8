"""Placement: pick a live host with room, and place pending workspaces when one appears."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import asyncpg
import msgspec
import structlog

from wws_api.hosts import HostRegistry
from wws_api.readmodel import apply_inline
from wws_events import SYSTEM_SCHEDULER, DomainError
from wws_events import commands as c
from wws_events.host import HostHeartbeat
from wws_events.ids import command_id
from wws_events.workspace import Resources
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any
from wws_store import handler
from wws_store.errors import ConcurrencyError

log = structlog.get_logger("wws.scheduler")


class Allocation(msgspec.Struct, kw_only=True):
    cpu: float = 0.0
    memory_mb: int = 0
    disk_gb: int = 0
    workspaces: int = 0


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    reason: str


def pick_host(
    want: Resources,
    live: Iterable[HostHeartbeat],
    allocated: dict[str, Allocation],
    *,
    image: str | None = None,
    requested: str | None = None,
    cpu_overcommit: float = 4.0,
    memory_overcommit: float = 1.0,
    org: str | None = None,
) -> Placement | None:
    """Among live hosts of ``org``'s pool (its own hosts and shared ones) where ``want``
    fits, prefer one that already holds ``image``, then the most free memory; None when
    nothing fits (the workspace stays pending)."""
    best: tuple[tuple[bool, float], HostHeartbeat] | None = None
    for beat in live:
        if requested is not None and beat.host_id != requested:
            continue
        if beat.pool_org is not None and beat.pool_org != org:
            continue
        used = allocated.get(beat.host_id, Allocation())
        free_cpu = beat.capacity.cpus * cpu_overcommit - used.cpu
        free_mem = beat.capacity.memory_mb * memory_overcommit - used.memory_mb
        free_disk = beat.capacity.disk_gb - used.disk_gb
        if want.cpu > free_cpu or want.memory_mb > free_mem or want.disk_gb > free_disk:
            continue
        score = (image is not None and image in beat.images, free_mem - want.memory_mb)
        if best is None or score > best[0]:
            best = (score, beat)
    if best is None:
        return None
    (has_image, free), beat = best
    why = "requested host" if requested else ("image present, " if has_image else "") + "most free memory"
    return Placement(host_id=beat.host_id, reason=f"{why} ({int(free)} MiB left after placement)")


async def allocations(conn: asyncpg.Pool | asyncpg.Connection) -> dict[str, Allocation]:
    rows = await conn.fetch(
        """SELECT host_id,
                  sum(cpu) FILTER (WHERE status NOT IN ('stopped', 'failed')) AS cpu,
                  sum(memory_mb) FILTER (WHERE status NOT IN ('stopped', 'failed')) AS mem,
                  sum(disk_gb) AS disk, count(*) AS n
           FROM api_workspaces WHERE host_id IS NOT NULL AND status <> 'deleted' GROUP BY host_id"""
    )
    return {
        r["host_id"]: Allocation(
            cpu=float(r["cpu"] or 0), memory_mb=int(r["mem"] or 0), disk_gb=int(r["disk"] or 0), workspaces=r["n"]
        )
        for r in rows
    }


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: HostRegistry,
        clock: Clock,
        *,
        cpu_overcommit: float,
        memory_overcommit: float,
        deadline_s: float,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.clock = clock
        self.cpu_overcommit = cpu_overcommit
        self.memory_overcommit = memory_overcommit
        self.deadline_s = deadline_s

    async def place(self, want: Resources, image: str, requested: str | None, org: str) -> Placement | None:
        return pick_host(
            want,
            self.registry.live(),
            await allocations(self.pool),
            image=image,
            requested=requested,
            cpu_overcommit=self.cpu_overcommit,
            memory_overcommit=self.memory_overcommit,
            org=org,
        )

    async def place_pending(self) -> int:
        """Try to place every pending workspace once; returns how many were placed."""
        rows = await self.pool.fetch(
            """SELECT workspace_id, org_id, version, image, cpu, memory_mb, disk_gb, state->>'requested_host' AS requested
               FROM api_workspaces WHERE status = 'pending' ORDER BY created_at LIMIT 100"""
        )
        placed = 0
        for r in rows:
            want = Resources(cpu=r["cpu"], memory_mb=r["memory_mb"], disk_gb=r["disk_gb"])
            spot = await self.place(want, r["image"], r["requested"], r["org_id"])
            if spot is None:
                continue
            now = self.clock.now()
            ctx = handler.CommandContext(
                command_id=command_id("schedule", r["workspace_id"], r["version"]),
                actor=SYSTEM_SCHEDULER,
                org_id="",
                now=now,
                deadline=now + timedelta(seconds=self.deadline_s),
            )
            try:
                await handler.execute(
                    self.pool,
                    r["workspace_id"],
                    c.ScheduleWorkspace(host_id=spot.host_id, reason=spot.reason),
                    ctx,
                    after_append=apply_inline,
                )
                placed += 1
                log.info("scheduler.placed", workspace_id=str(r["workspace_id"]), host_id=spot.host_id)
            except (DomainError, ConcurrencyError) as exc:
                log.info("scheduler.skip", workspace_id=str(r["workspace_id"]), reason=str(exc))
        return placed

    async def run(self, stop: asyncio.Event, *, interval: float = 2.0) -> None:
        while not stop.is_set():
            self.registry.changed.clear()
            try:
                await self.place_pending()
            except Exception:
                log.exception("scheduler.error")
            await wait_any(stop, self.registry.changed, timeout=interval)
