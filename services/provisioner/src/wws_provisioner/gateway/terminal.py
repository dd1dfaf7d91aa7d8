"""``/w/<workspace>/terminal``: reconnecting terminals (like Coder's reconnecting PTY).

A session is a PTY on the host whose other end is the stdio of ``podman exec -it`` running
the user's login shell in the workspace, in ``/home/dev``. It outlives its WebSocket: a
client that drops may reattach with the session id (``?session=<id>``) within
``terminal_grace_s`` and finds the same shell; the last ``terminal_buffer_kb`` of output
is replayed first, so what ran while it was away is on its screen. After the grace the
shell is hung up (SIGHUP, like a closed SSH connection: ``nohup``'d work survives, the
rest of its jobs get the hang-up from the shell; SIGKILL if it ignores that).

Protocol (JSON text frames, :mod:`wws_events.gateway`)::

    GET /w/<id>/terminal?session=<id>&cols=80&rows=24   (WebSocket, scope "terminal")
    server: {"type": "session", "id": ..., "replayed": bool}   first, always
    server: {"type": "output", "data": ...}                    the PTY's output, UTF-8
    server: {"type": "exit", "code": N}                        the shell ended; then close 1000
    client: {"type": "input", "data": ...}   {"type": "resize", "cols": C, "rows": R}

``replayed`` says the first output is the buffer of an earlier connection (reset the
screen before writing it; it may start in the middle of an escape sequence). One client
at a time: a new attach takes the session over and the previous one is closed.

Refusals before the handshake (bad token scope, no such workspace, not running, bad size)
are HTTP answers like every gateway route. Afterwards the close code says it all:

    1000  the shell exited (after the exit message)
    1001  the agent is shutting down
    1003  a binary frame arrived (the protocol is JSON text)
    1007  a message that is not valid JSON or not a known message
    1011  the shell could not be started
    4000  another connection took the session over
    4404  unknown session id: never existed, expired, ended, or another user's (a client
          should then open a new session; it is not done silently so a user learns that
          the old shell is gone)
    4429  the workspace already has ``terminal_max_sessions`` terminals

Activity: every input and every output chunk while a client is attached counts as use of
the workspace (the sink throttles). An open terminal with neither input nor output does
not count, and neither does output nobody is attached to (work running in a detached
terminal is the CPU watcher's to notice). A program that keeps redrawing (``top``,
``watch``) in an open tab does count.

The shell's processes carry a random mark in their environment (:mod:`.exec` explains
why): that is how the hang-up finds the shell in the container, since ending the
``podman exec`` client alone would leave the shell running."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import os
import secrets
import signal
import struct
import termios
import time
import tty
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import structlog
from litestar import Router, WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery

from wws_events.gateway import (
    GatewayClaims,
    TerminalClientMessage,
    TerminalExit,
    TerminalIn,
    TerminalOut,
    TerminalResize,
    TerminalSession,
)
from wws_provisioner.gateway.context import (
    HOME_IN_CONTAINER,
    ActivitySink,
    GatewayContext,
    GatewayError,
    WorkspaceRef,
    claims_of,
    note_use,
    require,
)
from wws_provisioner.gateway.exec import MARK_VAR, end_client, podman_binary, signal_marked
from wws_provisioner.settings import ProvisionerSettings
from wws_proxy import deny_websocket

log = structlog.get_logger("wws.gateway.terminal")

CLOSE_EXITED = 1000
CLOSE_SHUTDOWN = 1001
CLOSE_BINARY = 1003
CLOSE_BAD_MESSAGE = 1007
CLOSE_FAILED = 1011
CLOSE_TAKEN_OVER = 4000
CLOSE_UNKNOWN = 4404
CLOSE_TOO_MANY = 4429

SHELL = 'exec "${SHELL:-/bin/bash}" -l'
DEFAULT_COLS, DEFAULT_ROWS = 80, 24
MAX_SIDE = 1000
READ_CHUNK = 64 * 1024
SEND_CHUNK = 64 * 1024
INPUT_BACKLOG = 1024 * 1024
"""Input not yet taken by the PTY beyond which the client's messages wait (a huge paste
into a shell that does not read)."""
DRAIN_S = 2.0
"""After the client exits, how long the PTY's last output may take to arrive."""
HANGUP_WAIT_S = 3.0


def checked_size(cols: int, rows: int) -> tuple[int, int]:
    if not (1 <= cols <= MAX_SIDE and 1 <= rows <= MAX_SIDE):
        raise GatewayError(400, f"cols and rows must be 1-{MAX_SIDE}")
    return cols, rows


def shell_argv(podman_url: str, container: str, mark: str) -> list[str]:
    return [
        podman_binary(),
        "--url",
        podman_url,
        "exec",
        "-it",
        "--env=TERM=xterm-256color",
        f"--env={MARK_VAR}={mark}",
        f"--workdir={HOME_IN_CONTAINER}",
        container,
        "/bin/sh",
        "-c",
        SHELL,
    ]


class Ring:
    """The last ``capacity`` bytes of output, addressed by absolute offsets (bytes since the
    session began), so each reader keeps its own position."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf = bytearray()
        self.end = 0
        """Offset just past the newest byte."""

    @property
    def start(self) -> int:
        return self.end - min(len(self._buf), self.capacity)

    def append(self, data: bytes) -> None:
        self._buf += data
        self.end += len(data)
        # trimmed in bulk: one move per capacity's worth of output, not per chunk
        if len(self._buf) > 2 * self.capacity:
            del self._buf[: len(self._buf) - self.capacity]

    def replay_from(self) -> int:
        """Where a replay starts: the oldest byte, past the tail of a character cut in two."""
        start = self.start
        offset = start - (self.end - len(self._buf))
        for _ in range(3):
            if start < self.end and 0x80 <= self._buf[offset] < 0xC0:
                start, offset = start + 1, offset + 1
        return start

    def read(self, cursor: int, limit: int) -> tuple[bytes, int]:
        """The bytes from ``cursor`` (at most ``limit``) and the cursor after them; a cursor
        the buffer no longer reaches jumps to the oldest byte kept."""
        if cursor < self.start:
            cursor = self.replay_from()
        offset = cursor - (self.end - len(self._buf))
        data = bytes(self._buf[offset : offset + limit])
        return data, cursor + len(data)


class _Client:
    """One attached WebSocket: its place in the output and what the session tells it."""

    def __init__(self, claims: GatewayClaims, cursor: int) -> None:
        self.claims = claims
        self.cursor = cursor
        self.wake = asyncio.Event()
        self.kicked: tuple[int, str] | None = None

    def kick(self, code: int, reason: str) -> None:
        self.kicked = (code, reason)
        self.wake.set()


class Terminal:
    """One shell and its PTY. Everything runs in the event loop's thread."""

    def __init__(
        self,
        ref: WorkspaceRef,
        owner: str,
        settings: ProvisionerSettings,
        activity: ActivitySink,
        on_gone: Callable[[Terminal], None],
    ) -> None:
        self.id = secrets.token_urlsafe(24)
        self.workspace_id = ref.workspace_id
        self.owner = owner
        self.ref = ref
        self.settings = settings
        self.activity = activity
        self.ring = Ring(settings.terminal_buffer_kb * 1024)
        self.ended = False
        self.exit_code: int | None = None
        self._on_gone = on_gone
        self._mark = secrets.token_hex(16)
        self._read_size = min(READ_CHUNK, self.ring.capacity // 2)
        self._loop = asyncio.get_running_loop()
        self._fd = -1
        self._proc: asyncio.subprocess.Process | None = None
        self._client: _Client | None = None
        self._reading = False
        self._sized = False
        self._exiting = False
        self._eof = asyncio.Event()
        self._done = asyncio.Event()
        self._pending = bytearray()
        self._writing = False
        self._drained = asyncio.Event()
        self._drained.set()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ life

    async def start(self, cols: int, rows: int) -> None:
        master, slave = os.openpty()
        try:
            # podman puts its side in raw mode itself; until then nothing here may echo input
            tty.setraw(slave)
            self._set_size(master, cols, rows)
            os.set_blocking(master, False)
            self._proc = await asyncio.create_subprocess_exec(
                *shell_argv(self.settings.podman_url, self.ref.container, self._mark),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._fd = master
        self._resume()
        self._spawn(self._watch())

    async def _watch(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        # the last output may still be in the PTY: read it even past a slow client
        self._exiting = True
        self._resume()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._eof.wait(), DRAIN_S)
        self._close_fd()
        self.ended, self.exit_code = True, code
        self._done.set()
        self._cancel_timer()
        if self._client is not None:
            self._client.wake.set()
        else:
            # a client reconnecting in the grace still learns how the shell ended
            self._timer = self._loop.call_later(self.settings.terminal_grace_s, self._forget)

    async def terminate(self) -> None:
        """Hang up the shell (then kill it), end the podman client, wait for the end."""
        if self._proc is None:
            return
        if not self.ended:
            await self._hang_up(time.monotonic() + HANGUP_WAIT_S)
        if not self.ended:
            pid = self.ref.pid
            await asyncio.to_thread(signal_marked, self._mark, pid, signal.SIGKILL, roots_only=True)
            await end_client(self._proc)
            # a client killed while it started the shell may have started it after all
            await asyncio.to_thread(signal_marked, self._mark, pid, signal.SIGKILL, roots_only=True)
        await self._done.wait()
        self._forget()

    async def _hang_up(self, deadline: float) -> None:
        # a session closed right after it opened may not have its shell yet: look again
        while not self.ended and (left := deadline - time.monotonic()) > 0:
            hung = await asyncio.to_thread(signal_marked, self._mark, self.ref.pid, signal.SIGHUP, roots_only=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), left if hung else min(0.1, left))
            if hung:
                return

    def _forget(self) -> None:
        self._cancel_timer()
        self._on_gone(self)

    def _expire(self) -> None:
        log.info("gateway.terminal_expired", workspace_id=str(self.workspace_id))
        self._spawn(self.terminate())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------ clients

    def attach(self, claims: GatewayClaims) -> _Client:
        """The new client gets the whole buffer first; a previous one is closed."""
        if self._client is not None:
            self._client.kick(CLOSE_TAKEN_OVER, "another connection took this terminal over")
        self._cancel_timer()
        client = _Client(claims, self.ring.replay_from())
        self._client = client
        return client

    def kick(self, code: int, reason: str) -> None:
        if self._client is not None:
            self._client.kick(code, reason)

    def detach(self, client: _Client) -> None:
        if self._client is not client:
            return  # taken over: the session is the new client's now
        self._client = None
        self._resume()
        if self.ended:
            self._forget()  # it saw the exit
        elif self._timer is None:
            self._timer = self._loop.call_later(self.settings.terminal_grace_s, self._expire)

    def take(self, client: _Client) -> bytes:
        data, client.cursor = self.ring.read(client.cursor, SEND_CHUNK)
        if self.ring.end - client.cursor <= self.ring.capacity // 2:
            self._resume()
        return data

    # ------------------------------------------------------------ the PTY

    def _resume(self) -> None:
        if not self._reading and self._fd >= 0 and not self._eof.is_set():
            self._loop.add_reader(self._fd, self._readable)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, self._read_size)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the client exited and closed its side
        if not data:
            self._pause()
            self._eof.set()
            return
        if not self._sized:
            # podman sizes the exec's terminal as it starts it and that can be lost in a
            # race; once the shell prints, the session surely runs: size it again
            self._sized = True
            self._signal_winch()
        self.ring.append(data)
        client = self._client
        if client is None:
            return
        note_use(self.activity, client.claims, "terminal")
        client.wake.set()
        # stop reading before unsent output could be overwritten: the shell then blocks on
        # its output like on a slow real terminal
        if not self._exiting and self.ring.end - client.cursor > self.ring.capacity - self._read_size:
            self._pause()

    async def write(self, data: bytes) -> None:
        if self._fd < 0:
            return
        self._pending += data
        self._flush()
        while len(self._pending) > INPUT_BACKLOG and self._fd >= 0:
            self._drained.clear()
            await self._drained.wait()

    def _flush(self) -> None:
        while self._pending and self._fd >= 0:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                break
            except OSError:
                self._pending.clear()
                break
            del self._pending[:written]
        want = bool(self._pending) and self._fd >= 0
        if want and not self._writing:
            self._loop.add_writer(self._fd, self._flush)
        elif not want and self._writing:
            self._loop.remove_writer(self._fd)
        self._writing = want
        if len(self._pending) <= INPUT_BACKLOG:
            self._drained.set()

    def resize(self, cols: int, rows: int) -> None:
        if self._fd < 0 or self._proc is None:
            return
        self._set_size(self._fd, cols, rows)
        self._signal_winch()

    def _signal_winch(self) -> None:
        # podman has no controlling terminal here, so the kernel does not tell it of a new
        # size; it reads the size of its side of the PTY on SIGWINCH and passes it on
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, signal.SIGWINCH)

    @staticmethod
    def _set_size(fd: int, cols: int, rows: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _close_fd(self) -> None:
        if self._fd < 0:
            return
        self._pause()
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        os.close(self._fd)
        self._fd = -1
        self._pending.clear()
        self._drained.set()


class TerminalSessions:
    """Every terminal of this host's gateway, by id."""

    def __init__(self, settings: ProvisionerSettings, activity: ActivitySink) -> None:
        self.settings = settings
        self.activity = activity
        self._sessions: dict[str, Terminal] = {}

    def live(self, workspace_id: uuid.UUID) -> list[Terminal]:
        return [t for t in self._sessions.values() if t.workspace_id == workspace_id and not t.ended]

    async def open(self, ref: WorkspaceRef, claims: GatewayClaims, cols: int, rows: int) -> Terminal:
        if len(self.live(ref.workspace_id)) >= self.settings.terminal_max_sessions:
            raise GatewayError(429, f"the workspace has {self.settings.terminal_max_sessions} terminals already")
        term = Terminal(ref, claims.sub, self.settings, self.activity, self._gone)
        # registered before the start, which awaits: a concurrent open counts this one
        self._sessions[term.id] = term
        try:
            await term.start(cols, rows)
        except BaseException:
            self._sessions.pop(term.id, None)
            raise
        log.info("gateway.terminal_opened", workspace_id=str(ref.workspace_id), sub=claims.sub)
        return term

    def find(self, workspace_id: uuid.UUID, session_id: str, sub: str) -> Terminal | None:
        """Only its own user reaches a session (another's looks like an unknown id)."""
        term = self._sessions.get(session_id)
        if term is None or term.workspace_id != workspace_id or term.owner != sub:
            return None
        return term

    def _gone(self, term: Terminal) -> None:
        if self._sessions.pop(term.id, None) is not None:
            log.info("gateway.terminal_closed", workspace_id=str(term.workspace_id), exit_code=term.exit_code)

    async def close(self) -> None:
        """Kill every terminal (the agent is stopping)."""
        terms = list(self._sessions.values())
        for term in terms:
            term.kick(CLOSE_SHUTDOWN, "the gateway is shutting down")
        await asyncio.gather(*(t.terminate() for t in terms), return_exceptions=True)
        self._sessions.clear()


# ---------------------------------------------------------------- the WebSocket


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes."""
    return text.encode()[:120].decode("utf-8", errors="ignore")


_encode = msgspec.json.Encoder().encode


async def _send_output(socket: WebSocket[Any, Any, Any], term: Terminal, client: _Client) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        client.wake.clear()
        if client.kicked is not None:
            await socket.close(*client.kicked)
            return
        if data := term.take(client):
            if text := decoder.decode(data):
                await socket.send_text(_encode(TerminalOut(data=text)).decode())
            continue
        if term.ended:
            if tail := decoder.decode(b"", final=True):
                await socket.send_text(_encode(TerminalOut(data=tail)).decode())
            await socket.send_text(_encode(TerminalExit(code=term.exit_code)).decode())
            await socket.close(CLOSE_EXITED, "the shell exited")
            return
        await client.wake.wait()


async def _receive_input(
    socket: WebSocket[Any, Any, Any], term: Terminal, client: _Client, activity: ActivitySink
) -> None:
    decoder = msgspec.json.Decoder(TerminalClientMessage)
    while True:
        event = await socket.receive()
        if event["type"] != "websocket.receive":
            return  # the client closed
        text = event.get("text")
        if text is None:
            await socket.close(CLOSE_BINARY, "binary frames are not accepted: send JSON text")
            return
        try:
            message = decoder.decode(text)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            await socket.close(CLOSE_BAD_MESSAGE, _reason(f"bad message: {exc}"))
            return
        if client.kicked is not None:
            return  # taken over: the shell is the new connection's
        if isinstance(message, TerminalIn):
            note_use(activity, client.claims, "terminal")
            await term.write(message.data.encode(errors="replace"))
        elif isinstance(message, TerminalResize):
            if not (1 <= message.cols <= MAX_SIDE and 1 <= message.rows <= MAX_SIDE):
                await socket.close(CLOSE_BAD_MESSAGE, f"cols and rows must be 1-{MAX_SIDE}")
                return
            term.resize(message.cols, message.rows)


async def _serve(socket: WebSocket[Any, Any, Any], term: Terminal, client: _Client, activity: ActivitySink) -> None:
    """Both directions until one ends (the client left, the shell exited, a takeover)."""
    tasks = {
        asyncio.ensure_future(_send_output(socket, term, client)),
        asyncio.ensure_future(_receive_input(socket, term, client, activity)),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        # a client gone mid-send is the usual way a terminal connection ends
        if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect | OSError):
            log.warning("gateway.terminal_connection_failed", error=repr(result))


def terminal_router(ctx: GatewayContext, sessions: TerminalSessions) -> Router:
    @websocket("/w/{workspace_id:uuid}/terminal")
    async def terminal(
        socket: WebSocket[Any, Any, Any],
        workspace_id: FromPath[uuid.UUID],
        session: FromQuery[str | None] = None,
        cols: FromQuery[int | None] = None,
        rows: FromQuery[int | None] = None,
    ) -> None:
        try:
            claims = claims_of(socket.scope)
            require(claims, workspace_id, "terminal")
            size = checked_size(DEFAULT_COLS if cols is None else cols, DEFAULT_ROWS if rows is None else rows)
            ref = await ctx.locate(workspace_id)
        except GatewayError as exc:
            await socket.receive()  # the handshake's connect event comes first
            await deny_websocket(dict(socket.scope), socket.send, exc.status, exc.message)  # type: ignore[arg-type]
            return
        await socket.accept()
        if session is None:
            try:
                term = await sessions.open(ref, claims, *size)
            except GatewayError as exc:
                await socket.close(CLOSE_TOO_MANY if exc.status == 429 else CLOSE_FAILED, _reason(exc.message))
                return
            except OSError as exc:
                log.warning("gateway.terminal_start_failed", workspace_id=str(workspace_id), error=str(exc))
                await socket.close(CLOSE_FAILED, "the shell could not be started")
                return
        else:
            found = sessions.find(workspace_id, session, claims.sub)
            if found is None:
                await socket.close(CLOSE_UNKNOWN, "no such terminal session: it ended or expired")
                return
            term = found
            if cols is not None or rows is not None:
                term.resize(*size)  # the reconnecting window may have another size
        replayed = session is not None and term.ring.end > term.ring.start
        client = term.attach(claims)
        try:
            await socket.send_text(_encode(TerminalSession(id=term.id, replayed=replayed)).decode())
            await _serve(socket, term, client, ctx.activity)
        except (WebSocketDisconnect, OSError):
            pass  # gone before the first message
        finally:
            term.detach(client)

    return Router(path="/", route_handlers=[terminal])
