"""Heartbeat: capacity, inventory and images in KV ``wws_hosts.<host_id>`` every few
seconds. The bucket's TTL removes a host that stops beating."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

import structlog
from nats.js.kv import KeyValue

from wws_events import encode
from wws_events.host import HostCapacity, HostHeartbeat, InventoryItem
from wws_provisioner.errors import ProvisionerError
from wws_provisioner.runtime.base import WorkspaceRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.agent.heartbeat")


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


async def capacity(settings: ProvisionerSettings, runtime: WorkspaceRuntime) -> HostCapacity:
    disk = settings.disk_gb
    if not disk:
        try:
            disk = await runtime.storage_gb()
        except ProvisionerError:
            disk = 0
    return HostCapacity(
        cpus=settings.cpus or float(os.cpu_count() or 1),
        memory_mb=settings.memory_mb or memory_mb(),
        disk_gb=disk,
    )


async def beat_once(
    kv: KeyValue,
    settings: ProvisionerSettings,
    runtime: WorkspaceRuntime,
    cap: HostCapacity,
    started_at: datetime,
    clock: Clock,
    version: str,
) -> HostHeartbeat:
    inventory = [
        InventoryItem(
            workspace_id=ct.workspace_id,
            container_id=ct.container_id,
            status=ct.status,
            generation=ct.generation,
            command_id=ct.command_id,
        )
        for ct in await runtime.inventory()
    ]
    beat = HostHeartbeat(
        host_id=settings.host_id,
        agent_version=version,
        runtime="podman",
        started_at=started_at,
        sent_at=clock.now(),
        capacity=cap,
        inventory=inventory,
        images=await runtime.images(),
        address=settings.gateway_url(),
        pool_org=settings.pool_org or None,
    )
    await kv.put(settings.host_id, encode(beat))
    return beat


async def run(
    kv: KeyValue,
    settings: ProvisionerSettings,
    runtime: WorkspaceRuntime,
    cap: HostCapacity,
    clock: Clock,
    version: str,
    stop: asyncio.Event,
) -> None:
    started = clock.now()
    while not stop.is_set():
        try:
            await beat_once(kv, settings, runtime, cap, started, clock, version)
        except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the TTL tells the rest
            log.warning("agent.heartbeat_failed", error=str(exc))
        await wait_any(stop, timeout=settings.heartbeat_interval_s)
    try:
        await kv.delete(settings.host_id)  # leave cleanly: the host is not live any more
    except Exception as exc:  # noqa: BLE001
        log.warning("agent.heartbeat_delete_failed", error=str(exc))
