"""Carries out one host order against the runtime and returns exactly one outcome.

Every failure, expected or not, becomes the order's ``…Failed`` event: a command never
ends without an outcome (coder's provisionerd runner has the same rule).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import assert_never, cast

import structlog

from wws_events import commands as c
from wws_events import workspace as w
from wws_events.commands import CommandEnvelope
from wws_events.workspace import ErrorInfo, Operation
from wws_provisioner.errors import ProvisionerError
from wws_provisioner.runtime.base import Placement, WorkspaceRuntime

log = structlog.get_logger("wws.agent.runner")

Progress = Callable[[w.WorkspaceRestartStopped], Awaitable[None]]


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


def _placement(
    cmd: CommandEnvelope, order: c.AgentProvision | c.AgentStart | c.AgentRestart | c.AgentRebuild
) -> Placement:
    return Placement(
        workspace_id=cmd.workspace_id,
        name=order.name,
        owner_id=order.owner_id,
        generation=order.generation,
        command_id=cmd.command_id,
        spec=order.spec,
    )


async def _carry_out(
    runtime: WorkspaceRuntime, cmd: CommandEnvelope, progress: Progress
) -> tuple[int | None, str | None]:
    """Returns (generation, container id)."""
    order = cmd.data
    match order:
        case c.AgentProvision() | c.AgentStart() | c.AgentRebuild():
            return order.generation, await runtime.ensure_running(_placement(cmd, order))
        case c.AgentRestart():
            await runtime.stop(cmd.workspace_id, order.timeout_s)
            await progress(w.WorkspaceRestartStopped(command_id=cmd.command_id))
            return order.generation, await runtime.ensure_running(_placement(cmd, order))
        case c.AgentStop():
            return None, await runtime.stop(cmd.workspace_id, order.timeout_s)
        case c.AgentDelete():
            await runtime.remove(cmd.workspace_id, order.timeout_s)
            return None, None
        case _:
            assert_never(order)


async def execute(runtime: WorkspaceRuntime, cmd: CommandEnvelope, progress: Progress) -> w.WorkspaceEvent:
    op = operation(cmd.data)
    try:
        generation, container_id = await _carry_out(runtime, cmd, progress)
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
            error=ErrorInfo(code="internal", message=f"{type(exc).__name__} in the agent; see its log", retryable=True),
        )
        return cast("w.WorkspaceEvent", crashed)
    done = w.SUCCEEDED[op](command_id=cmd.command_id, generation=generation, container_id=container_id)
    return cast("w.WorkspaceEvent", done)
