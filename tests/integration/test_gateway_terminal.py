"""Reconnecting terminals against a real workspace container (real Podman, a real PTY),
served by real uvicorn and driven by a real WebSocket client.

The gateway's token check is replaced by a middleware that hands the handlers the claims
a test chose (``x-sub`` / ``x-scope`` headers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fixtures.services import serve_asgi
from tests.integration.workspace_containers import (
    HostOf,
    Notes,
    Workspace,
    header_claims,
    running_workspace,
    with_claims,
)
from tests.timeouts import WAIT_MEDIUM, WAIT_SHORT, eventually
from wws_provisioner.gateway.context import GatewayError, problem_response
from wws_provisioner.gateway.terminal import TerminalSessions, terminal_router
from wws_provisioner.settings import ProvisionerSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ORG = "org-term"
USER = "user:alice"


@pytest.fixture(scope="module")
def workspace(podman_socket: str, base_image: str) -> Iterator[Workspace]:
    """One running workspace container for the module (each test opens its own terminals)."""
    with running_workspace(podman_socket, base_image) as ws:
        yield ws


@dataclass
class Gateway:
    url: str
    ws: Workspace
    sessions: TerminalSessions
    notes: Notes
    opened: list[ClientConnection] = field(default_factory=list)

    def terminal_url(self, **params: str | int) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.url}/w/{self.ws.id}/terminal" + (f"?{query}" if query else "")

    async def open(self, *, sub: str = USER, scope: str = "terminal", **params: str | int) -> Term:
        conn = await connect(
            self.terminal_url(**params),
            additional_headers={"x-sub": sub, "x-scope": scope},
            max_size=None,
            ping_interval=None,
            open_timeout=WAIT_SHORT,
        )
        self.opened.append(conn)
        return Term(conn)


@contextlib.asynccontextmanager
async def serve(ws: Workspace, **overrides: Any) -> AsyncIterator[Gateway]:
    settings = ProvisionerSettings(host_id="test-host", podman_url=ws.url, **overrides)
    notes = Notes()
    ctx = HostOf(ws, settings, notes)
    sessions = TerminalSessions(settings, notes)
    app = Litestar(route_handlers=[terminal_router(ctx, sessions)], exception_handlers={GatewayError: problem_response})
    async with serve_asgi(with_claims(app, header_claims(ws.id, org=ORG, scope="terminal", sub=USER))) as port:
        gw = Gateway(url=f"ws://127.0.0.1:{port}", ws=ws, sessions=sessions, notes=notes)
        try:
            yield gw
        finally:
            for conn in gw.opened:
                await conn.close()
            await sessions.close()
    # every shell this gateway started is gone with it
    await eventually(lambda: _check(lambda: "zsh" not in ws.ps()), timeout=WAIT_SHORT, what="no shell left")


@pytest.fixture
async def gw(workspace: Workspace) -> AsyncIterator[Gateway]:
    async with serve(workspace, terminal_grace_s=30.0) as running:
        yield running


class Term:
    """One terminal connection: what the shell printed so far, and ways to wait for it."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.output = ""
        self.messages: list[dict[str, Any]] = []

    async def next(self, timeout: float = WAIT_MEDIUM) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        self.messages.append(message)
        if message["type"] == "output":
            self.output += message["data"]
        return message

    async def session(self) -> dict[str, Any]:
        first = await self.next()
        assert first["type"] == "session", first
        return first

    async def send(self, data: str) -> None:
        await self.conn.send(json.dumps({"type": "input", "data": data}))

    async def run(self, command: str) -> None:
        await self.send(command + "\r")

    async def until(self, pattern: str, timeout: float = WAIT_MEDIUM) -> re.Match[str]:
        """Read output until ``pattern`` matches it (the shell's echo of a command is not
        its output: patterns look for what only running it prints)."""
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.output)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} in the terminal output: {self.output[-2000:]!r}")
            await self.next(left)
        return found

    async def size_becomes(self, size: str, tries: int = 20) -> bool:
        """The shell sees ``size`` ("rows cols") soon: podman passes a new size on to the
        container through its API, after input already sent may have run."""
        for _ in range(tries):
            seen = len(self.output)
            await self.run("echo size=$(stty size).")
            while not (found := re.search(r"size=(\d+ \d+)\.", self.output[seen:])):
                await self.next()
            if found.group(1) == size:
                return True
            await asyncio.sleep(0.1)
        return False

    async def shell_pid(self) -> int:
        await self.run("echo pid=$$.")
        return int((await self.until(r"pid=(\d+)\.")).group(1))

    async def closed(self, timeout: float = WAIT_MEDIUM) -> tuple[int, str]:
        """Read to the end; the close code and reason the server sent."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.next(timeout)
        assert self.conn.close_code is not None
        return self.conn.close_code, self.conn.close_reason or ""


async def gone_from(ws: Workspace, pid: int) -> bool:
    listing = await asyncio.to_thread(ws.ps)
    return not re.search(rf"^\s*{pid}\s", listing, re.MULTILINE)


# ---------------------------------------------------------------- basics


async def test_a_command_runs_and_its_output_comes_back(gw: Gateway) -> None:
    term = await gw.open()
    first = await term.session()
    assert first["replayed"] is False and len(first["id"]) >= 32
    await term.run("echo hello")
    await term.until(r"\nhello\r\n")
    await term.run("id -un; pwd")
    await term.until(r"\ndev\r\n/home/dev\r\n")
    await term.run("echo $TERM")
    await term.until(r"\nxterm-256color\r\n")

    # a keystroke's echo round trip, for the record
    started = time.monotonic()
    await term.send("x")
    assert (await term.next())["type"] == "output"
    assert time.monotonic() - started < 1.0
    await term.send("\x7f")
    assert (gw.ws.id, ORG, "terminal") in gw.notes.seen


async def test_the_size_is_set_at_the_start_and_on_resize(gw: Gateway) -> None:
    term = await gw.open(cols=100, rows=30)
    await term.session()
    assert await term.size_becomes("30 100")
    await term.conn.send(json.dumps({"type": "resize", "cols": 132, "rows": 43}))
    assert await term.size_becomes("43 132")


async def test_the_exit_of_the_shell_ends_the_session_with_its_code(gw: Gateway) -> None:
    term = await gw.open()
    sid = (await term.session())["id"]
    await term.run("exit 3")
    assert await term.closed() == (1000, "the shell exited")
    assert term.messages[-1] == {"type": "exit", "code": 3}
    await eventually(lambda: _ready(not gw.sessions.live(gw.ws.id)), what="the session gone")
    again = await gw.open(session=sid)
    assert (await again.closed())[0] == 4404


async def test_much_multibyte_output_arrives_whole(workspace: Workspace) -> None:
    """90 KB of three-byte characters through a 4 KiB buffer: reads split characters, the
    client must never see a broken one, nor lose any (the reader waits for the client)."""
    async with serve(workspace, terminal_buffer_kb=4) as gw:
        term = await gw.open()
        await term.session()
        await term.run("printf '\\342\\234\\223%.0s' $(seq 1 30000); echo; echo done-$((5+5))")
        await term.until(r"done-10\r\n")
        assert "\ufffd" not in term.output
        assert term.output.count("\u2713") == 30000


# ---------------------------------------------------------------- reconnecting


async def test_a_reconnect_replays_what_was_missed_in_the_same_shell(gw: Gateway) -> None:
    term = await gw.open()
    sid = (await term.session())["id"]
    pid = await term.shell_pid()
    await term.run("sleep 1; echo missed-$((40+2))")
    await term.conn.close()

    await asyncio.sleep(1.5)  # the output arrives while nobody is attached
    back = await gw.open(session=sid)
    first = await back.session()
    assert first == {"type": "session", "id": sid, "replayed": True}
    await back.until(r"missed-42\r\n")
    assert f"pid={pid}." in back.output  # the replay holds the earlier output too
    assert await back.shell_pid() == pid


async def test_the_replay_is_bounded_by_the_buffer(workspace: Workspace) -> None:
    async with serve(workspace, terminal_buffer_kb=4) as gw:
        term = await gw.open()
        sid = (await term.session())["id"]
        await term.run("sleep 0.5; seq 1 20000; echo end-$((1+1))")
        await term.conn.close()
        await asyncio.sleep(2)
        back = await gw.open(session=sid)
        assert (await back.session())["replayed"] is True
        await back.until(r"end-2\r\n")
        assert len(back.output.encode()) <= 4096
        assert "\n19999\r\n" in back.output and "\n100\r\n" not in back.output


async def test_a_new_connection_takes_the_session_over(gw: Gateway) -> None:
    first = await gw.open()
    sid = (await first.session())["id"]
    pid = await first.shell_pid()
    second = await gw.open(session=sid)
    await second.session()
    assert await first.closed() == (4000, "another connection took this terminal over")
    assert await second.shell_pid() == pid


async def test_unknown_and_foreign_sessions_are_refused(gw: Gateway) -> None:
    unknown = await gw.open(session="no-such-session")
    assert (await unknown.closed())[0] == 4404

    mine = await gw.open()
    sid = (await mine.session())["id"]
    theirs = await gw.open(session=sid, sub="user:mallory")
    assert (await theirs.closed())[0] == 4404
    await mine.run("echo still-$((1+1))")
    await mine.until(r"still-2\r\n")


async def test_two_sessions_of_one_workspace_are_independent(gw: Gateway) -> None:
    a, b = await gw.open(), await gw.open()
    id_a, id_b = (await a.session())["id"], (await b.session())["id"]
    assert id_a != id_b
    assert await a.shell_pid() != await b.shell_pid()
    await a.run("export ONLY_A=yes-$((2+2))")
    await b.run('echo "b[$ONLY_A]"')
    await b.until(r"b\[\]\r\n")
    await a.run('echo "a[$ONLY_A]"')
    await a.until(r"a\[yes-4\]\r\n")
    assert "yes-4" not in b.output
    assert len(gw.sessions.live(gw.ws.id)) == 2


async def test_a_shell_nobody_reattaches_is_hung_up_after_the_grace(workspace: Workspace) -> None:
    async with serve(workspace, terminal_grace_s=1.0) as gw:
        term = await gw.open()
        sid = (await term.session())["id"]
        pid = await term.shell_pid()
        await term.run("sleep 4242 &")
        await term.until(r"\[1\] \d+")
        await term.conn.close()
        assert not await gone_from(workspace, pid)
        await eventually(lambda: gone_from(workspace, pid), timeout=WAIT_MEDIUM, what="the shell hung up")
        # the shell hangs up its jobs too
        await eventually(
            lambda: _check(lambda: "sleep 4242" not in workspace.ps()), timeout=WAIT_SHORT, what="its job gone"
        )
        again = await gw.open(session=sid)
        assert (await again.closed())[0] == 4404
        assert gw.sessions.live(workspace.id) == []


async def test_closing_the_sessions_kills_every_shell(workspace: Workspace) -> None:
    async with serve(workspace) as gw:
        attached, detached = await gw.open(), await gw.open()
        await attached.session()
        await detached.session()
        pids = [await attached.shell_pid(), await detached.shell_pid()]
        await detached.conn.close()
        await gw.sessions.close()
        assert (await attached.closed())[0] == 1001
        # close() returns once the shells ended: no waiting needed
        for pid in pids:
            assert await gone_from(workspace, pid)


# ---------------------------------------------------------------- refusals


async def test_bad_messages_close_the_connection_and_nothing_else(gw: Gateway) -> None:
    term = await gw.open()
    sid = (await term.session())["id"]
    await term.conn.send("{not json")
    code, reason = await term.closed()
    assert code == 1007 and reason.startswith("bad message")

    back = await gw.open(session=sid)
    await back.session()
    await back.conn.send(json.dumps({"type": "dance"}))
    assert (await back.closed())[0] == 1007

    binary = await gw.open(session=sid)
    await binary.session()
    await binary.conn.send(b"\x00\x01")
    assert (await binary.closed())[0] == 1003

    huge = await gw.open(session=sid)
    await huge.session()
    await huge.conn.send(json.dumps({"type": "resize", "cols": 0, "rows": 10}))
    assert (await huge.closed())[0] == 1007

    # the shell lived through all of that
    last = await gw.open(session=sid)
    await last.session()
    await last.run("echo alive-$((3*3))")
    await last.until(r"alive-9\r\n")


async def test_a_workspace_has_at_most_the_configured_terminals(workspace: Workspace) -> None:
    async with serve(workspace, terminal_max_sessions=2) as gw:
        for _ in range(2):
            await (await gw.open()).session()
        third = await gw.open()
        code, reason = await third.closed()
        assert code == 4429 and "2 terminals" in reason


async def test_the_handshake_is_refused_without_the_terminal_scope_or_with_a_bad_size(gw: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await gw.open(scope="exec")
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as bad_size:
        await gw.open(cols=0)
    assert bad_size.value.response.status_code == 400
    assert gw.sessions.live(gw.ws.id) == []


async def _ready(value: bool) -> bool:
    return value


async def _check(probe: Any) -> bool:
    return bool(await asyncio.to_thread(probe))
