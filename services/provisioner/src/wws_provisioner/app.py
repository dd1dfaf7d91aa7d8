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
from wws_provisioner.reconcile import reconcile
from wws_provisioner.runtime.podman import PodmanRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_service import bus, tracing
from wws_service import logging as wlog
from wws_service.clock import Clock, SystemClock
from wws_service.lifecycle import run_until_signalled, wait_any
from wws_service.settings import ConfigError, load_settings

log = structlog.get_logger("wws.agent")


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
                    address=settings.address or None,
                ),
                stream_id=f"host-{settings.host_id}",
                cause=boot,
            )
            await heartbeat.beat_once(hosts, settings, runtime, cap, clk.now(), clk, __version__)
            agent = Agent(
                js=js,
                runtime=runtime,
                emitter=emitter,
                state=state,
                host_id=settings.host_id,
                clock=clk,
                ack_wait=settings.ack_wait_s,
                max_deliver=settings.max_deliver,
                concurrency=settings.max_concurrency,
            )

            async def reconciler() -> None:
                n = 0
                while not stop.is_set():
                    try:
                        await reconcile(
                            nc,
                            runtime,
                            emitter,
                            settings.host_id,
                            clk,
                            grace_s=settings.orphan_grace_s,
                            run_id=f"{boot}:{n}",
                        )
                    except Exception:
                        log.exception("agent.reconcile_failed")
                    n += 1
                    if settings.reconcile_interval_s <= 0:
                        return
                    await wait_any(stop, timeout=settings.reconcile_interval_s)

            async with asyncio.TaskGroup() as tg:
                tg.create_task(heartbeat.run(hosts, settings, runtime, cap, clk, __version__, stop))
                tg.create_task(reconciler())
                tg.create_task(agent.run(stop, settings.shutdown_grace))
    finally:
        runtime.close()


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
