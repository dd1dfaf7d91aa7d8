"""``wws-provisioner``: the per-host agent. NATS in, Podman out, events back."""

from __future__ import annotations

import asyncio
import sys
import uuid

import structlog

from wws_events.host import HostRegistered
from wws_provisioner import __version__, heartbeat
from wws_provisioner.agent import Agent
from wws_provisioner.emitter import Emitter
from wws_provisioner.gateway import run as gateway
from wws_provisioner.hoststate import DevcontainerStore, SecretsClient
from wws_provisioner.initwatch import InitWatcher
from wws_provisioner.ports import PortAllocator
from wws_provisioner.reconcile import reconcile
from wws_provisioner.runner import Operations
from wws_provisioner.runtime.podman import PodmanRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs
from wws_service import bus, tracing
from wws_service import logging as wlog
from wws_service.clock import Clock, SystemClock
from wws_service.lifecycle import run_until_signalled, wait_any
from wws_service.settings import ConfigError, load_settings

log = structlog.get_logger("wws.agent")
RETRY_RECONCILE_S = 10.0
"""A reconcile that could not ask the control plane (or failed) is retried this soon."""


async def run(settings: ProvisionerSettings, stop: asyncio.Event, *, clock: Clock | None = None) -> None:
    """Everything after configuration; tests call it with their own settings and stop event."""
    clk = clock or SystemClock()
    runtime = PodmanRuntime(settings.podman_url, settings.host_id)
    try:
        async with bus.connect(settings.nats_url, name=f"wws-agent-{settings.host_id}") as nc:
            js = nc.jetstream()
            await bus.ensure_streams(js)
            hosts = await bus.hosts_bucket(js, ttl=settings.host_ttl_s)
            state = await bus.agent_state_bucket(js)
            emitter = Emitter(js, settings.host_id, "system", clk, __version__)
            cap = await heartbeat.capacity(settings, runtime)
            boot = uuid.uuid4()
            await emitter.emit(
                HostRegistered(
                    host_id=settings.host_id,
                    agent_version=__version__,
                    runtime="podman",
                    capacity=cap,
                    address=settings.gateway_url(),
                    pool_org=settings.pool_org or None,
                ),
                stream_id=f"host-{settings.host_id}",
                cause=boot,
            )
            await heartbeat.beat_once(hosts, settings, runtime, cap, clk.now(), clk, __version__)
            dirs = WorkspaceDirs(settings.runtime_dir)
            if not await asyncio.to_thread(dirs.ensure_tmpfs):
                log.warning("agent.runtime_dir_not_tmpfs", path=settings.runtime_dir, hint="run the agent as root")
            watcher = InitWatcher(emitter, dirs)
            operations = Operations(
                runtime=runtime,
                settings=settings,
                dirs=dirs,
                ports=PortAllocator(state, settings.host_id, settings.ide_ports),
                watcher=watcher,
                secrets=SecretsClient(nc, settings.host_id),
                devcontainers=DevcontainerStore(state, settings.host_id),
                emitter=emitter,
            )
            agent = Agent(
                js=js,
                operations=operations,
                emitter=emitter,
                state=state,
                host_id=settings.host_id,
                clock=clk,
                ack_wait=settings.ack_wait_s,
                max_deliver=settings.max_deliver,
                concurrency=settings.max_concurrency,
            )
            await resume_watchers(runtime, dirs, watcher)

            async def reconciler() -> None:
                n = 0
                while not stop.is_set():
                    again = settings.reconcile_interval_s
                    try:
                        summary = await reconcile(
                            nc,
                            runtime,
                            emitter,
                            settings.host_id,
                            clk,
                            grace_s=settings.orphan_grace_s,
                            run_id=f"{boot}:{n}",
                        )
                        if not summary.desired_known:
                            again = RETRY_RECONCILE_S
                    except Exception:
                        log.exception("agent.reconcile_failed")
                        again = RETRY_RECONCILE_S
                    n += 1
                    if again <= 0:
                        return
                    await wait_any(stop, timeout=again)

            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(heartbeat.run(hosts, settings, runtime, cap, clk, __version__, stop))
                    tg.create_task(reconciler())
                    tg.create_task(agent.run(stop, settings.shutdown_grace))
                    tg.create_task(gateway.run(settings, runtime, emitter, dirs, js, stop))
            finally:
                await watcher.close()
    finally:
        runtime.close()


async def resume_watchers(runtime: PodmanRuntime, dirs: WorkspaceDirs, watcher: InitWatcher) -> None:
    """After an agent restart, keep relaying the init reports of running workspaces (lines
    already relayed have the same event ids, so nothing is recorded twice)."""
    for ct in await runtime.inventory():
        run_id = dirs.current_run(ct.workspace_id)
        meta = dirs.run_meta(ct.workspace_id)
        if ct.status == "running" and run_id is not None and meta is not None:
            watcher.watch(ct.workspace_id, run_id, org_id=meta[0], correlation_id=meta[1])


def main() -> int:
    try:
        settings = load_settings(ProvisionerSettings, service="provisioner")
    except ConfigError as exc:
        print(f"wws-provisioner: {exc}", file=sys.stderr)  # noqa: T201 - before logging exists
        return 2
    wlog.configure(service="provisioner", level=settings.log_level, fmt=settings.log_format)
    tracing.configure(
        service="provisioner", exporter=settings.otel_exporter, endpoint=settings.otel_endpoint, version=__version__
    )
    log.info("agent.starting", host_id=settings.host_id, podman_url=settings.podman_url, version=__version__)
    asyncio.run(run_until_signalled(lambda stop: run(settings, stop)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
