"""Relays what the in-workspace init reports (``/run/wws/events-<run>.jsonl``) as events,
and lets a create wait for the init's first phase (repository + devcontainer.json).

The file is written inside the workspace, so every line is untrusted input: it is decoded
into fixed shapes, cut to size, and anything else is ignored. Event ids come from the run
and the line number, so re-reading a file (after an agent restart) records nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, Literal

import msgspec
import structlog

from wws_events import workspace as w
from wws_provisioner.emitter import Emitter
from wws_provisioner.workdir import WorkspaceDirs

log = structlog.get_logger("wws.agent.init")
MAX_LINE = 64 * 1024
WATCH_FOR_S = 6 * 3600.0


class _Line(msgspec.Struct, tag_field="type"):
    pass


class StepStarted(_Line, tag="step_started"):
    step: w.InitStep
    name: str


class StepSucceeded(_Line, tag="step_succeeded"):
    step: w.InitStep
    name: str
    duration_ms: int
    detail: str | None = None


class StepFailed(_Line, tag="step_failed"):
    step: w.InitStep
    name: str
    duration_ms: int
    message: str
    exit_code: int | None = None
    output_tail: list[str] = []


class Devcontainer(_Line, tag="devcontainer"):
    status: Literal["none", "invalid", "needs_image", "applied", "changed"]
    source: str | None = None
    tree: str | None = None
    """The repository's path inside the workspace (under its home)."""
    key: str | None = None
    config: dict[str, Any] | None = None
    unsupported: list[str] = []
    warnings: list[str] = []
    message: str | None = None
    line: int | None = None
    column: int | None = None


class Prepared(_Line, tag="prepared"):
    needs_image: bool = False


class Finished(_Line, tag="finished"):
    duration_ms: int
    degraded: bool
    failed_steps: list[str] = []


Line = StepStarted | StepSucceeded | StepFailed | Devcontainer | Prepared | Finished
_decode = msgspec.json.Decoder(Line)


def _short(text: str | None, n: int = 1000) -> str | None:
    return None if text is None else text[:n]


class Phase(msgspec.Struct, frozen=True, kw_only=True):
    """The init's first phase: did the repository's devcontainer.json ask for an image?"""

    needs_image: bool
    devcontainer: Devcontainer | None


class InitWatcher:
    def __init__(self, emitter: Emitter, dirs: WorkspaceDirs) -> None:
        self.emitter = emitter
        self.dirs = dirs
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._phase: dict[tuple[uuid.UUID, uuid.UUID], asyncio.Future[Phase]] = {}
        self._last_dc: dict[tuple[uuid.UUID, uuid.UUID], Devcontainer] = {}

    def watch(self, workspace_id: uuid.UUID, run_id: uuid.UUID, *, org_id: str, correlation_id: uuid.UUID) -> None:
        old = self._tasks.get(workspace_id)
        if old is not None and not old.done() and old.get_name() == str(run_id):
            return
        self.cancel(workspace_id)
        self._tasks[workspace_id] = asyncio.create_task(
            self._tail(workspace_id, run_id, org_id, correlation_id), name=str(run_id)
        )

    def cancel(self, workspace_id: uuid.UUID) -> None:
        task = self._tasks.pop(workspace_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        for ws in list(self._tasks):
            self.cancel(ws)

    def _future(self, workspace_id: uuid.UUID, run_id: uuid.UUID) -> asyncio.Future[Phase]:
        key = (workspace_id, run_id)
        if key not in self._phase:
            self._phase[key] = asyncio.get_running_loop().create_future()
        return self._phase[key]

    async def wait_phase(self, workspace_id: uuid.UUID, run_id: uuid.UUID, timeout: float) -> Phase | None:
        """The first phase's outcome, or None when the init did not get there in time."""
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._future(workspace_id, run_id))
        except TimeoutError:
            return None

    def reset_phase(self, workspace_id: uuid.UUID, run_id: uuid.UUID) -> None:
        """Before a second init run of the same order (after the image swap)."""
        self._phase.pop((workspace_id, run_id), None)

    async def _tail(self, workspace_id: uuid.UUID, run_id: uuid.UUID, org_id: str, correlation_id: uuid.UUID) -> None:
        path = self.dirs.events_file(workspace_id, run_id)
        index = 0
        buffer = b""
        offset = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + WATCH_FOR_S
        try:
            while loop.time() < until:
                chunk = _read_from(path, offset)
                if chunk:
                    offset += len(chunk)
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for raw in lines:
                        index += 1
                        if await self._handle(workspace_id, run_id, org_id, correlation_id, index, raw):
                            return
                    if len(buffer) > MAX_LINE:
                        buffer = b""
                else:
                    await asyncio.sleep(0.1)
        finally:
            self._phase.pop((workspace_id, run_id), None)

    async def _handle(
        self, ws: uuid.UUID, run: uuid.UUID, org_id: str, correlation_id: uuid.UUID, index: int, raw: bytes
    ) -> bool:
        """Relay one line; True when the init finished."""
        try:
            line = _decode.decode(raw[:MAX_LINE])
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("init.bad_line", workspace_id=str(ws), line=index)
            return False
        data: w.WorkspaceEvent | None = None
        match line:
            case StepStarted():
                data = w.WorkspaceInitStepStarted(run_id=run, step=line.step, name=line.name[:200])
            case StepSucceeded():
                data = w.WorkspaceInitStepSucceeded(
                    run_id=run,
                    step=line.step,
                    name=line.name[:200],
                    duration_ms=line.duration_ms,
                    detail=_short(line.detail),
                )
            case StepFailed():
                data = w.WorkspaceInitStepFailed(
                    run_id=run,
                    step=line.step,
                    name=line.name[:200],
                    duration_ms=line.duration_ms,
                    exit_code=line.exit_code,
                    message=_short(line.message) or "",
                    output_tail=[x[:400] for x in line.output_tail[-20:]],
                )
            case Devcontainer():
                self._last_dc[(ws, run)] = line
                if line.status == "invalid":
                    data = w.WorkspaceDevcontainerInvalid(
                        run_id=run,
                        source=line.source or "",
                        message=_short(line.message) or "",
                        line=line.line,
                        column=line.column,
                    )
                elif line.status in ("applied", "changed"):
                    data = w.WorkspaceDevcontainerApplied(
                        run_id=run,
                        source=line.source or "",
                        image=None,
                        unsupported=line.unsupported[:100],
                        warnings=line.warnings[:20],
                    )
            case Prepared():
                fut = self._future(ws, run)
                if not fut.done():
                    fut.set_result(Phase(needs_image=line.needs_image, devcontainer=self._last_dc.get((ws, run))))
            case Finished():
                data = w.WorkspaceInitFinished(
                    run_id=run,
                    duration_ms=line.duration_ms,
                    degraded=line.degraded,
                    failed_steps=line.failed_steps[:50],
                )
            case _:
                pass
        if data is not None:
            await self.emitter.emit(
                data,
                stream_id=str(ws),
                cause=f"init:{ws}:{run}:{index}",
                correlation_id=correlation_id,
                causation_id=run,
                org_id=org_id,
            )
        return isinstance(line, Finished)


def _read_from(path: Path, offset: int) -> bytes:
    with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
        f.seek(offset)
        return f.read(MAX_LINE)
    return b""
