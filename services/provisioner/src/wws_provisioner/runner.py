"""Carries out one host order and returns exactly one outcome event.

Every failure, expected or not, becomes the order's ``…Failed`` event: a command never
ends without an outcome (coder's provisionerd runner has the same rule).

Bringing a workspace up (provision, start, restart, rebuild):
1. plan the container (image — the devcontainer's when one was applied —, mounts, env,
   network, IDE port) and, when WWS's init runs in it, ask the control plane for the
   secrets (the repository's token, the owner's secrets) and write them with the init's
   configuration;
2. make it run;
3. on a new container of a workspace with a repository, wait for the init's first phase:
   when the repository's devcontainer.json names an image or a Dockerfile, build (or find)
   it, remember the decision, and replace the container — same home volume — so the init
   runs again inside the devcontainer image.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import assert_never, cast

import msgspec
import structlog

from wws_events import commands as c
from wws_events import workspace as w
from wws_events.commands import CommandEnvelope
from wws_events.workspace import ErrorInfo, Operation
from wws_init import devcontainer as dcfile
from wws_provisioner import images
from wws_provisioner.emitter import Emitter
from wws_provisioner.errors import DevcontainerFailed, ImageNotFound, NoIdePort, ProvisionerError
from wws_provisioner.hoststate import NO_SECRETS, DevcontainerStore, SecretsClient, StartSecrets
from wws_provisioner.initwatch import Devcontainer, InitWatcher
from wws_provisioner.plan import IMAGE_LABEL, ContainerPlan, DevcontainerState, init_config, plan_container
from wws_provisioner.ports import PortAllocator, PortsExhausted
from wws_provisioner.runtime.base import WorkspaceRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs

log = structlog.get_logger("wws.agent.runner")

Progress = Callable[[w.WorkspaceRestartStopped], Awaitable[None]]
Bringing = c.AgentProvision | c.AgentStart | c.AgentRestart | c.AgentRebuild


def operation(order: c.AgentCommand) -> Operation:
    match order:
        case c.AgentProvision():
            return "provision"
        case c.AgentStart():
            return "start"
        case c.AgentStop():
            return "stop"
        case c.AgentRestart():
            return "restart"
        case c.AgentRebuild():
            return "rebuild"
        case c.AgentDelete():
            return "delete"
        case _:
            assert_never(order)


class Result(msgspec.Struct, frozen=True, kw_only=True):
    generation: int | None = None
    container_id: str | None = None
    image: str | None = None
    ide_port: int | None = None


class Operations:
    def __init__(
        self,
        *,
        runtime: WorkspaceRuntime,
        settings: ProvisionerSettings,
        dirs: WorkspaceDirs,
        ports: PortAllocator,
        watcher: InitWatcher,
        secrets: SecretsClient,
        devcontainers: DevcontainerStore,
        emitter: Emitter,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.dirs = dirs
        self.ports = ports
        self.watcher = watcher
        self.secrets = secrets
        self.devcontainers = devcontainers
        self.emitter = emitter
        self._init_dir: str | None = None

    @property
    def init_dir(self) -> str:
        if self._init_dir is None:
            self._init_dir = self.dirs.init_program()
        return self._init_dir

    async def execute(self, cmd: CommandEnvelope, progress: Progress) -> w.WorkspaceEvent:
        op = operation(cmd.data)
        try:
            result = await self._carry_out(cmd, progress)
        except ProvisionerError as exc:
            log.warning("agent.operation_failed", operation=op, code=exc.code, error=str(exc))
            failed = w.FAILED[op](
                command_id=cmd.command_id, error=ErrorInfo(code=exc.code, message=str(exc), retryable=exc.retryable)
            )
            return cast("w.WorkspaceEvent", failed)
        except Exception as exc:
            log.exception("agent.operation_crashed", operation=op)
            crashed = w.FAILED[op](
                command_id=cmd.command_id,
                error=ErrorInfo(
                    code="internal", message=f"{type(exc).__name__} in the agent; see its log", retryable=True
                ),
            )
            return cast("w.WorkspaceEvent", crashed)
        done = w.SUCCEEDED[op](
            command_id=cmd.command_id,
            generation=result.generation,
            container_id=result.container_id,
            image=result.image,
            ide_port=result.ide_port,
        )
        return cast("w.WorkspaceEvent", done)

    async def _carry_out(self, cmd: CommandEnvelope, progress: Progress) -> Result:
        order = cmd.data
        ws = cmd.workspace_id
        match order:
            case c.AgentProvision() | c.AgentRebuild():
                return await self.bring_up(cmd, order, create=True)
            case c.AgentStart():
                return await self.bring_up(cmd, order, create=False)
            case c.AgentRestart():
                self.watcher.cancel(ws)
                await self.runtime.stop(ws, order.timeout_s)
                await progress(w.WorkspaceRestartStopped(command_id=cmd.command_id))
                return await self.bring_up(cmd, order, create=False)
            case c.AgentStop():
                self.watcher.cancel(ws)
                container = await self.runtime.stop(ws, order.timeout_s)
                self.dirs.drop_secrets(ws)
                return Result(container_id=container)
            case c.AgentDelete():
                self.watcher.cancel(ws)
                await self.runtime.remove(ws, order.timeout_s)
                self.dirs.remove(ws)
                await self.ports.release(ws)
                await self.devcontainers.delete(ws)
                return Result()
            case _:
                assert_never(order)

    async def bring_up(self, cmd: CommandEnvelope, order: Bringing, *, create: bool) -> Result:
        ws = cmd.workspace_id
        spec = order.spec
        if isinstance(order, c.AgentRebuild):
            await self.devcontainers.delete(ws)  # a rebuild reads devcontainer.json afresh
        dc = await self.devcontainers.get(ws)
        ide_port = await self._ide_port(ws, order)
        current = await self.runtime.describe(ws)
        fresh = (
            create
            or current is None
            or current.generation != order.generation
            or current.devcontainer_key != (dc.key if dc else None)
        )
        plan = await self._plan(cmd, order, dc, ide_port)
        secrets = await self._secrets(ws) if plan.runs_init else NO_SECRETS
        if plan.runs_init:
            self.dirs.prepare(
                ws,
                init_config(
                    run_id=cmd.command_id,
                    workspace_id=ws,
                    name=order.name,
                    org_id=cmd.org_id,
                    correlation_id=cmd.correlation_id,
                    generation=order.generation,
                    spec=order.spec,
                    plan=plan,
                    fresh=fresh,
                ),
                secrets,
            )
        container_id = await self.runtime.ensure_running(plan)
        if not plan.runs_init:
            return Result(generation=order.generation, container_id=container_id, image=plan.image, ide_port=ide_port)
        self.watcher.watch(ws, cmd.command_id, org_id=cmd.org_id, correlation_id=cmd.correlation_id)
        if fresh and spec.repository is not None and spec.devcontainer:
            phase = await self.watcher.wait_phase(ws, cmd.command_id, self.settings.init_timeout_s)
            if phase is not None and phase.needs_image and phase.devcontainer is not None:
                dc = await self._devcontainer_image(ws, phase.devcontainer, spec.env, plan.home)
                await self.devcontainers.put(ws, dc)
                self.watcher.reset_phase(ws, cmd.command_id)
                plan = await self._plan(cmd, order, dc, ide_port)
                self.dirs.prepare(
                    ws,
                    init_config(
                        run_id=cmd.command_id,
                        workspace_id=ws,
                        name=order.name,
                        org_id=cmd.org_id,
                        correlation_id=cmd.correlation_id,
                        generation=order.generation,
                        spec=order.spec,
                        plan=plan,
                        fresh=True,
                    ),
                    secrets,
                )
                container_id = await self.runtime.replace(plan)
                await self.emitter.emit(
                    w.WorkspaceDevcontainerApplied(
                        run_id=cmd.command_id,
                        source=phase.devcontainer.source or "",
                        image=dc.image,
                        unsupported=phase.devcontainer.unsupported[:100],
                    ),
                    stream_id=str(ws),
                    cause=f"devcontainer:{cmd.command_id}",
                    correlation_id=cmd.correlation_id,
                    causation_id=cmd.command_id,
                    org_id=cmd.org_id,
                )
        return Result(generation=order.generation, container_id=container_id, image=plan.image, ide_port=ide_port)

    async def _ide_port(self, ws: uuid.UUID, order: Bringing) -> int | None:
        if not self.settings.publish_ide_port or not order.spec.ide or order.spec.network != "egress":
            return None
        try:
            return await self.ports.allocate(ws)
        except PortsExhausted as exc:
            raise NoIdePort(str(exc)) from exc

    async def _secrets(self, ws: uuid.UUID) -> StartSecrets:
        """Asked at every start, with or without a repository: the owner's secrets exist
        independently of it, and may have changed since the last start."""
        return await self.secrets.fetch(ws)

    async def _plan(
        self, cmd: CommandEnvelope, order: Bringing, dc: DevcontainerState | None, ide_port: int | None
    ) -> ContainerPlan:
        image = dc.image if dc else order.spec.image
        labels = await self._image_labels(image)
        return plan_container(
            workspace_id=cmd.workspace_id,
            name=order.name,
            owner_id=order.owner_id,
            generation=order.generation,
            command_id=cmd.command_id,
            spec=order.spec,
            image_labels=labels,
            devcontainer=dc,
            run_dir=str(self.dirs.path(cmd.workspace_id)),
            init_dir=self.init_dir if IMAGE_LABEL in labels else "",
            ide_port=ide_port,
            allow_host_loopback=self.settings.allow_host_loopback,
        )

    async def _image_labels(self, image: str) -> dict[str, str]:
        """The image's labels, building it first when it is a missing WWS image."""
        try:
            return await self.runtime.image_labels(image)
        except ImageNotFound:
            definition = images.wws_definition(image)
            if definition is None or not self.settings.build_images or not images.buildable_here():
                raise
        try:
            await images.build(definition)
        except Exception as exc:
            log.warning("agent.image_build_failed", image=image, error=str(exc)[-500:])
            raise ImageNotFound(image, f"building it failed: {str(exc)[-300:]}") from exc
        return await self.runtime.image_labels(image)

    async def _devcontainer_image(
        self, ws: uuid.UUID, line: Devcontainer, env: dict[str, str], home: str
    ) -> DevcontainerState:
        """Build (or find) the image a devcontainer.json asks for. Everything in ``line``
        comes from inside the workspace: paths are re-checked to stay in the repository."""
        if line.config is None or line.key is None:
            raise DevcontainerFailed("the init reported a devcontainer without its configuration")
        try:
            config = dcfile.from_json(line.config)
        except (dcfile.DevcontainerError, ValueError, TypeError, KeyError) as exc:
            raise DevcontainerFailed(f"the devcontainer configuration is not valid: {exc}") from exc
        key = "".join(ch for ch in line.key if ch.isalnum())[:32]
        tree = await self._host_tree(ws, line, home)
        if config.build is not None:
            context, dockerfile = await asyncio.to_thread(_build_paths, tree, config.build)
            image = await self.runtime.build_image(
                context=context,
                dockerfile=dockerfile,
                tag=f"localhost/wws-dc-{key[:16]}",
                args=config.build.args,
                target=config.build.target,
            )
        elif config.image is not None:
            image = config.image
            await self.runtime.image_labels(image)  # pulls it, or fails with image_not_found
        else:
            raise DevcontainerFailed("the devcontainer names neither an image nor a Dockerfile")
        folder = str(tree)
        container_env = {
            k: dcfile.substitute(
                v,
                local_env=env,
                container_env={},
                local_folder=folder,
                container_folder=folder,
                devcontainer_id=str(ws),
            )
            for k, v in config.container_env.items()
        }
        return DevcontainerState(
            key=key,
            image=image,
            source=line.source or "",
            container_env=container_env,
            user=config.container_user or config.remote_user,
        )

    async def _host_tree(self, ws: uuid.UUID, line: Devcontainer, home: str) -> Path:
        volume = await self.runtime.volume_path(ws)
        tree_in = line.tree or ""
        prefix = home.rstrip("/") + "/"
        if volume is None or not tree_in.startswith(prefix):
            raise DevcontainerFailed("cannot locate the repository on this host")
        return await asyncio.to_thread(_inside, Path(volume), tree_in[len(prefix) :])


def _inside(volume: Path, relative: str) -> Path:
    root = volume.resolve()
    tree = (root / relative).resolve()
    if not tree.is_relative_to(root) or not tree.is_dir():
        raise DevcontainerFailed("the repository path is outside the workspace's home")
    return tree


def _build_paths(tree: Path, build: dcfile.Build) -> tuple[str, str]:
    """Absolute context and the Dockerfile relative to it, both checked to stay in the tree."""
    context = (tree / build.context).resolve()
    dockerfile = (tree / build.dockerfile).resolve()
    for p in (context, dockerfile):
        if not p.is_relative_to(tree):
            raise DevcontainerFailed(f"{p} is outside the repository")
    return str(context), os.path.relpath(dockerfile, context)
