"""Idle detection done right, end to end (real agent, gateway, reaper, Podman):

- an untouched workspace is warned, then stopped after the (shortened) idle timeout, and
  the stop records why and the last signal seen;
- a workspace whose processes are busy (a long build) is NOT stopped although nobody types;
- an open terminal that nobody types in (and that prints nothing) does not keep a
  workspace alive: only input and output count, not an open connection.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.fixtures.services import AUTH, ProcessStack
from tests.timeouts import eventually_sync

pytestmark = pytest.mark.e2e
IDLE_S = 30
WARN_S = 10


def _events(stack: ProcessStack, ws: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT event_type, body, recorded_at FROM wws_events WHERE stream_id IN ($1, $2) ORDER BY global_position",
                ws,
                f"activity-{ws}",
            )
            return [{"type": r["event_type"], **json.loads(r["body"])["data"]} for r in rows]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _status(stack: ProcessStack, ws: str) -> str:
    with stack.client() as api:
        return str(api.get(f"/api/v1/workspaces/{ws}").json()["status"])


async def _hold_terminal(url: str, seconds: float) -> None:
    """Open a terminal, run one quiet command, then keep the connection open, silent."""
    async with ws_connect(url, additional_headers=AUTH) as term:
        hello = json.loads(await term.recv())
        assert hello["type"] == "session"
        await term.send(json.dumps({"type": "input", "data": "echo started\r"}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(term.recv(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            except Exception:  # noqa: BLE001 - the reaper stopping the workspace ends the connection
                return


def test_idle_busy_and_open_terminal_workspaces(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start(
        "provisioner",
        WWS_PROVISIONER_ACTIVITY_INTERVAL_S="4",
        WWS_PROVISIONER_ACTIVITY_CPU_INTERVAL_S="2",
    )
    stack.start(
        "reaper",
        WWS_REAPER_IDLE_TIMEOUT_S=str(IDLE_S),
        WWS_REAPER_WARN_BEFORE_S=str(WARN_S),
        WWS_REAPER_TICK_INTERVAL_S="1",
    )
    stack.wait_ready()
    ids = {}
    with stack.client(timeout=120) as api:
        for name in ("idle", "busy", "terminal"):
            r = api.post("/api/v1/workspaces?wait=running", json={"name": name, "cpu": 0.5, "memory_mb": 256})
            assert r.status_code == 200, r.text
            ids[name] = r.json()["id"]
    started = time.monotonic()
    # a long "build": a busy loop, started inside the workspace, nobody typing
    subprocess.run(
        ["podman", "exec", "-d", f"wws-{ids['busy']}", "sh", "-c", "while :; do :; done"],
        check=True,
        capture_output=True,
    )
    url = stack.url.replace("http://", "ws://") + f"/api/v1/workspaces/{ids['terminal']}/terminal"
    hold = IDLE_S * 2.5
    asyncio.run(_hold_terminal(url, hold))

    # by now (2.5 idle timeouts) the idle and the terminal-only workspaces are stopped
    def reaped(name: str) -> Callable[[], bool | None]:
        return lambda: _status(stack, ids[name]) == "stopped" or None

    for name in ("idle", "terminal"):
        eventually_sync(reaped(name), timeout=30, what=f"{name} reaped")
    # the busy one outlives two idle timeouts (and a warning's worth more)
    time.sleep(max(0.0, started + 2 * IDLE_S + WARN_S - time.monotonic()))
    busy_events = [(e["type"], e.get("source") or e.get("reason") or "") for e in _events(stack, ids["busy"])]
    assert _status(stack, ids["busy"]) == "running", f"a busy workspace was stopped: {busy_events}"

    for name in ("idle", "terminal"):
        events = _events(stack, ids[name])
        types = [e["type"] for e in events]
        warned = types.index("workspace.idle_warning")
        stopped = types.index("workspace.stop_requested")
        assert warned < stopped, types
        assert events[stopped]["reason"].startswith("idle"), events[stopped]
        assert events[warned]["last_signal"], events[warned]
    # the terminal's one command counted (input and output), the open connection did not
    term_sources = {e["source"] for e in _events(stack, ids["terminal"]) if e["type"] == "workspace.activity_recorded"}
    assert "terminal" in term_sources
    busy = _events(stack, ids["busy"])
    assert {e["source"] for e in busy if e["type"] == "workspace.activity_recorded"} == {"cpu"}
    assert "workspace.stop_requested" not in [e["type"] for e in busy]
