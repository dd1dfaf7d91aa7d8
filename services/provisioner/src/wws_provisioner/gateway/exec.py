"""``POST /w/<workspace>/exec``: run one command in a running workspace with ``podman exec``
(never a shell: ``argv`` is passed as is) and answer its exit code and output, either at
the end as one :class:`ExecResult` or, with ``"stream": true``, as NDJSON
:class:`ExecChunk` lines while it runs, ending with ``{"stream": "exit", ...}``.

Secrets: ``env`` values may be secrets, so they never reach a command line (``ps`` shows
those to every user of the host); they go to a 0600 file under ``runtime_dir/_exec`` (a
tmpfs in production; not the per-workspace directory, which the container mounts) that
``podman exec --env-file`` reads, removed when the command ends. Podman takes each line
literally up to the end of the line, so a value may not hold a line break (400).

Killing: ending the ``podman exec`` client does not end the command in the container
(conmon keeps the exec session running without it). So every process the gateway starts
carries a random mark in its environment (``WWS_GATEWAY_MARK``) and is found by it in the
host's ``/proc``, among the processes of the container's pid namespace; a kill signals
those and their descendants (catching children started with a cleaned environment while
their parent lives). A process that both dropped the mark and lost its marked parent
(``env -i setsid ...`` followed by the parent's exit) escapes, as it would escape any
session-based kill. Reading another user's ``/proc/<pid>/environ`` takes root, which the
agent is (from inside the container it would take CAP_SYS_PTRACE, which workspaces lack).
The terminal uses the same mark to hang up its shell."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import posixpath
import re
import secrets
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Literal

import msgspec
import structlog
from litestar import Request, Router, post
from litestar.params import FromPath
from litestar.response import Response, Stream

from wws_events.gateway import ExecChunk, ExecRequest, ExecResult
from wws_provisioner.gateway import procs
from wws_provisioner.gateway.context import (
    HOME_IN_CONTAINER,
    GatewayContext,
    GatewayError,
    WorkspaceRef,
    claims_of,
    note_use,
    require,
)

log = structlog.get_logger("wws.gateway.exec")

MARK_VAR = "WWS_GATEWAY_MARK"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENV_LINE = 32 * 1024
"""Podman reads an env file with a 64 KiB line buffer and fails on a longer line."""
READ_CHUNK = 64 * 1024
STREAM_QUEUE = 16
"""Chunks a streamed exec holds for a slow client before the command blocks on its output."""
EXIT_WAIT_S = 5.0
"""How long the podman client may take to notice its command is gone before it is killed."""
KILL_ROUNDS = 3
NDJSON = "application/x-ndjson"

Req = Request[Any, Any, Any]


def podman_binary() -> str:
    return shutil.which("podman") or "podman"


# ---------------------------------------------------------------- marked processes


def _marked_tree(mark: str, init_pid: int | None, proc_root: Path) -> tuple[set[int], set[int]]:
    """(every process carrying ``mark`` or descending from one, the marked ones whose parent
    is outside the container: the processes ``podman exec`` started). Only the container's
    pid namespace is read when its init is known; the mark is unguessable either way."""
    namespace = procs.pid_namespace(init_pid, proc_root) if init_pid else None
    needle = f"{MARK_VAR}={mark}".encode()
    parents: dict[int, int] = {}
    marked: set[int] = set()
    for entry in os.scandir(proc_root):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if namespace is not None and procs.pid_namespace(pid, proc_root) != namespace:
            continue
        try:
            stat = (proc_root / entry.name / "stat").read_text(encoding="utf-8", errors="replace")
            environ = (proc_root / entry.name / "environ").read_bytes()
            ppid = int(stat.rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone while we looked
        parents[pid] = ppid
        if needle in environ.split(b"\0"):
            marked.add(pid)
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = set(marked), list(marked)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    roots = {pid for pid in marked if parents[pid] not in marked and (namespace is None or parents[pid] not in parents)}
    return tree, roots


def signal_marked(
    mark: str, init_pid: int | None, sig: int, *, roots_only: bool = False, proc_root: Path = Path("/proc")
) -> int:
    """Send ``sig`` to the processes of one ``podman exec`` (``roots_only``: just the one it
    started, e.g. a shell, which hangs up its own jobs); the number signalled. Blocks: call
    it in a thread."""
    tree, roots = _marked_tree(mark, init_pid, proc_root)
    sent = 0
    for pid in roots if roots_only else tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            sent += 1
    return sent


async def kill_marked(mark: str, init_pid: int | None) -> None:
    """SIGKILL everything carrying ``mark``, again while a fork slipped through a round."""
    for _ in range(KILL_ROUNDS):
        if not await asyncio.to_thread(signal_marked, mark, init_pid, signal.SIGKILL):
            return
        await asyncio.sleep(0.05)


async def end_client(proc: asyncio.subprocess.Process, wait_s: float = EXIT_WAIT_S) -> None:
    """Wait for the podman client to exit (it does once its command is gone), else kill it
    (with its process group: ``start_new_session`` made it a leader)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), wait_s)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()


# ---------------------------------------------------------------- validation


def _fail(message: str) -> GatewayError:
    return GatewayError(400, message)


def check_request(req: ExecRequest, max_timeout_s: float) -> None:
    if not req.argv:
        raise _fail("argv is empty")
    if any("\0" in arg for arg in req.argv):
        raise _fail("argv may not contain NUL")
    if not 0 < req.timeout_s <= max_timeout_s:
        raise _fail(f"timeout_s must be above 0 and at most {max_timeout_s:g}")
    if req.cwd is not None and (not req.cwd or "\0" in req.cwd):
        raise _fail("cwd must be a non-empty path")
    for name, value in req.env.items():
        if not ENV_NAME.fullmatch(name) or name == MARK_VAR:
            raise _fail(f"bad environment variable name {name[:64]!r}")
        if any(c in value for c in "\n\r\0"):
            raise _fail(f"the value of {name} may not contain a line break or NUL")
        if len(name.encode()) + len(value.encode()) + 1 > MAX_ENV_LINE:
            raise _fail(f"{name} is longer than {MAX_ENV_LINE // 1024} KiB")


# ---------------------------------------------------------------- one run


def _write_env_file(runtime_dir: str, env: dict[str, str]) -> Path | None:
    if not env:
        return None
    folder = Path(runtime_dir) / "_exec"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / f"{secrets.token_hex(12)}.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in env.items())
    return path


def exec_argv(podman_url: str, container: str, req: ExecRequest, mark: str, env_file: Path | None) -> list[str]:
    argv = [podman_binary(), "--url", podman_url, "exec", "-i", f"--env={MARK_VAR}={mark}"]
    if req.cwd is not None:
        # a relative cwd means the home, where a terminal starts too
        argv.append(f"--workdir={posixpath.join(HOME_IN_CONTAINER, req.cwd)}")
    if env_file is not None:
        argv.append(f"--env-file={env_file}")
    # podman stops reading its own options at the container name: argv passes untouched
    return [*argv, container, *req.argv]


class ExecRun:
    """One ``podman exec`` client and what it takes to clean up after it."""

    def __init__(self, proc: asyncio.subprocess.Process, mark: str, init_pid: int | None, env_file: Path | None):
        self.proc = proc
        self.mark = mark
        self.init_pid = init_pid
        self.env_file = env_file
        self.started = time.monotonic()

    @classmethod
    async def start(cls, podman_url: str, runtime_dir: str, ref: WorkspaceRef, req: ExecRequest) -> ExecRun:
        mark = secrets.token_hex(16)
        env_file = _write_env_file(runtime_dir, req.env)
        try:
            proc = await asyncio.create_subprocess_exec(
                *exec_argv(podman_url, ref.container, req, mark, env_file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except BaseException:
            if env_file is not None:
                env_file.unlink(missing_ok=True)
            raise
        return cls(proc, mark, ref.pid, env_file)

    @property
    def duration_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    async def feed(self, data: str | None) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            if data:
                stdin.write(data.encode())
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command did not read it all: its business
        finally:
            stdin.close()

    async def kill(self) -> None:
        """End the command in the container, then the client."""
        if self.proc.returncode is None:
            await kill_marked(self.mark, self.init_pid)
            await end_client(self.proc)
        self.forget_env()

    def forget_env(self) -> None:
        if self.env_file is not None:
            self.env_file.unlink(missing_ok=True)
            self.env_file = None


class _Reaper:
    """Kills runs whose request went away (a cancelled task cannot await its own cleanup:
    anyio cancels every await of a cancelled scope again)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def finish(self, run: ExecRun) -> None:
        if run.proc.returncode is None:
            self.later(run.kill())
        else:
            run.forget_env()


# ---------------------------------------------------------------- collected


async def _collect(stream: asyncio.StreamReader | None, cap: int) -> tuple[str, bool]:
    """The first ``cap`` bytes of ``stream``; the rest is read and dropped so the command
    never blocks on a full pipe."""
    assert stream is not None
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(READ_CHUNK):
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
    # a cut multibyte character is dropped rather than shown as a replacement
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(bytes(kept), final=not truncated)
    return text, truncated


async def run_collected(run: ExecRun, req: ExecRequest, cap: int) -> ExecResult:
    feeder = asyncio.ensure_future(run.feed(req.stdin))
    out = asyncio.ensure_future(_collect(run.proc.stdout, cap))
    err = asyncio.ensure_future(_collect(run.proc.stderr, cap))
    timed_out = False
    code: int | None = None
    try:
        async with asyncio.timeout(req.timeout_s):
            # wait(), unlike gather(), leaves the readers running when the time is up
            await asyncio.wait({out, err})
            code = await run.proc.wait()
    except TimeoutError:
        timed_out = True
        await run.kill()
    finally:
        feeder.cancel()
    duration = run.duration_ms
    # after a kill the pipes close with the client: what was read so far is all there is
    (stdout, out_cut), (stderr, err_cut) = await asyncio.gather(out, err)
    return ExecResult(
        exit_code=code,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=out_cut,
        stderr_truncated=err_cut,
        timed_out=timed_out,
        duration_ms=duration,
    )


# ---------------------------------------------------------------- streamed

StreamName = Literal["stdout", "stderr"]


async def _pump(stream: asyncio.StreamReader | None, name: StreamName, queue: asyncio.Queue[ExecChunk]) -> None:
    assert stream is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await stream.read(READ_CHUNK):
        if text := decoder.decode(chunk):
            await queue.put(ExecChunk(stream=name, data=text))
    if tail := decoder.decode(b"", final=True):
        await queue.put(ExecChunk(stream=name, data=tail))


async def stream_chunks(run: ExecRun, req: ExecRequest) -> AsyncIterator[ExecChunk]:
    """Output as it comes, then the exit line (exit_code None: killed at the timeout)."""
    queue: asyncio.Queue[ExecChunk] = asyncio.Queue(STREAM_QUEUE)
    feeder = asyncio.ensure_future(run.feed(req.stdin))
    pumps = [
        asyncio.ensure_future(_pump(run.proc.stdout, "stdout", queue)),
        asyncio.ensure_future(_pump(run.proc.stderr, "stderr", queue)),
    ]
    deadline = time.monotonic() + req.timeout_s
    getter: asyncio.Future[ExecChunk] | None = None
    code: int | None = None

    def pumping() -> bool:
        return not all(p.done() for p in pumps)

    try:
        while pumping() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            waiting: set[asyncio.Future[Any]] = {getter, *pumps}
            await asyncio.wait(waiting, timeout=deadline - time.monotonic(), return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
                continue
            getter.cancel()
            if pumping() and time.monotonic() >= deadline:
                break
        else:
            for pump in pumps:
                pump.result()
            code = await asyncio.wait_for(run.proc.wait(), max(deadline - time.monotonic(), 0.001))
    except TimeoutError:
        pass
    finally:
        for task in (getter, feeder, *pumps):
            if task is not None:
                task.cancel()
    if code is None:
        await run.kill()
        while not queue.empty():
            yield queue.get_nowait()
    yield ExecChunk(stream="exit", exit_code=code)


async def _ndjson(reaper: _Reaper, start: Callable[[], Awaitable[ExecRun]], req: ExecRequest) -> AsyncIterator[bytes]:
    # the command starts with the body: a response never sent starts nothing
    run = await start()
    encoder = msgspec.json.Encoder()
    try:
        async for chunk in stream_chunks(run, req):
            yield encoder.encode(chunk) + b"\n"
    finally:
        reaper.finish(run)  # the client went away mid-stream: the command must not outlive it


# ---------------------------------------------------------------- route


async def _disconnected(request: Req) -> None:
    """Returns when the client disconnects (its body is read: what comes next is the end)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def exec_router(ctx: GatewayContext) -> Router:
    settings = ctx.settings
    cap = settings.exec_max_output_kb * 1024
    reaper = _Reaper()

    @post("/w/{workspace_id:uuid}/exec", status_code=200)
    async def run_exec(request: Req, workspace_id: FromPath[uuid.UUID]) -> Response[Any]:
        claims = claims_of(request.scope)
        require(claims, workspace_id, "exec")
        try:
            req = msgspec.json.decode(await request.body(), type=ExecRequest)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise GatewayError(400, f"bad exec request: {exc}") from exc
        check_request(req, settings.exec_max_timeout_s)
        ref = await ctx.locate(workspace_id)
        note_use(ctx.activity, claims, "exec")
        log.info("gateway.exec", workspace_id=str(workspace_id), sub=claims.sub, stream=req.stream)

        def start() -> Awaitable[ExecRun]:
            return ExecRun.start(settings.podman_url, settings.runtime_dir, ref, req)

        if req.stream:
            return Stream(_ndjson(reaper, start, req), media_type=NDJSON)
        run = await start()
        collect = asyncio.ensure_future(run_collected(run, req, cap))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            # the caller leaving ends the command (it would run on to its timeout unseen)
            await asyncio.wait({collect, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not collect.done():
                collect.cancel()
                raise GatewayError(499, "the client went away; the command was killed")
            return Response(msgspec.json.encode(collect.result()), media_type="application/json")
        finally:
            gone.cancel()
            reaper.finish(run)

    return Router(path="/", route_handlers=[run_exec])
