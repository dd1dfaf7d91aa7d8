"""The gateway as one task of the agent: its server, the keys it trusts, activity
recording, the CPU watcher and the metrics sampler."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

from wws_provisioner.emitter import Emitter
from wws_provisioner.gateway.activity import ActivityRecorder, CpuWatcher
from wws_provisioner.gateway.context import GatewayContext
from wws_provisioner.gateway.exec import exec_router
from wws_provisioner.gateway.files import files_router
from wws_provisioner.gateway.forward import Upstreams, fast_path
from wws_provisioner.gateway.keys import TokenVerifier
from wws_provisioner.gateway.metrics import MetricsSampler, metrics_router
from wws_provisioner.gateway.server import build_app, serve
from wws_provisioner.gateway.terminal import TerminalSessions, terminal_router
from wws_provisioner.runtime.base import WorkspaceRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs


async def run(
    settings: ProvisionerSettings,
    runtime: WorkspaceRuntime,
    emitter: Emitter,
    dirs: WorkspaceDirs,
    js: JetStreamContext,
    stop: asyncio.Event,
) -> None:
    recorder = ActivityRecorder(emitter, settings)
    ctx = GatewayContext(runtime, settings, recorder)
    verifier = TokenVerifier(settings.host_id)
    upstreams = Upstreams()
    sessions = TerminalSessions(settings, recorder)
    sampler = MetricsSampler(runtime, settings)
    watcher = CpuWatcher(runtime, settings, dirs, recorder)
    app = build_app(
        verifier,
        [
            terminal_router(ctx, sessions),
            exec_router(ctx),
            files_router(ctx),
            metrics_router(ctx, sampler),
        ],
        inner=fast_path(ctx, upstreams),
    )
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(recorder.run(stop))
            tg.create_task(watcher.run(stop))
            tg.create_task(sampler.run(stop))
            if settings.gateway_listen:
                tg.create_task(serve(app, settings.gateway_listen, verifier, js, stop))
    finally:
        await sessions.close()
        await upstreams.close()
        sampler.close()
