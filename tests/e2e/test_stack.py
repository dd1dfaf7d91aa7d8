"""The README's first command: ``wws-stack up`` brings up everything on its embedded
defaults, creates a usable demo workspace, stops all it started on Ctrl-C, and keeps its
data for the next start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fixtures.podman import containers_of
from tests.fixtures.services import free_port
from tests.timeouts import eventually_sync
from wws_stack.binaries import find

pytestmark = pytest.mark.e2e


def _up(state: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(find("wws-stack")), "up"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,sid="], capture_output=True, text=True, check=True).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        nxt = {p for p, pp, _ in rows if pp in frontier and p not in found}
        found |= nxt
        frontier = nxt
    return found


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_stack_up_demo_workspace_ctrl_c_and_restart(
    tmp_path: Path, host_id: str, base_image: str, podman_socket: str
) -> None:
    state = tmp_path / "state"
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WWS_")}
    env.update(
        {
            "WWS_STATE_DIR": str(state),
            "WWS_STACK_API_PORT": str(api_port),
            "WWS_STACK_NATS_PORT": str(free_port()),
            "WWS_STACK_PODMAN_SOCKET": podman_socket.removeprefix("unix://"),
            "WWS_PROVISIONER_HOST_ID": host_id,
        }
    )
    log = tmp_path / "stack.log"
    proc = _up(state, env, log)
    try:
        line = eventually_sync(
            lambda: re.search(r"demo workspace (\S+) is running", log.read_text()) or proc.poll() is not None,
            timeout=180,
            what="demo workspace running",
        )
        assert proc.poll() is None and isinstance(line, re.Match), log.read_text()
        ws_id = line.group(1)
        eventually_sync(lambda: f"podman exec -it wws-{ws_id} zsh" in log.read_text(), timeout=60, what="help printed")
        # the one-time browser login works once
        link = re.search(r"browser\s+(http\S+/api/v1/auth/bootstrap\?token=\S+)", log.read_text())
        assert link, log.read_text()[-2000:]
        first = httpx.get(link.group(1), follow_redirects=False)
        assert first.status_code == 302 and "wws_session=" in first.headers["set-cookie"]
        assert httpx.get(link.group(1), follow_redirects=False).status_code == 400
        token = (state / "secrets" / "admin-token").read_text().strip()
        assert oct((state / "secrets" / "admin-token").stat().st_mode & 0o777) == "0o600"
        r = httpx.get(
            f"http://127.0.0.1:{api_port}/api/v1/workspaces/{ws_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.json()["status"] == "running"
        # the workspace is usable: a shell runs in it as the dev user
        out = subprocess.run(
            ["podman", "exec", f"wws-{ws_id}", "zsh", "-c", "echo $0 $(id -un)"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.split() == ["zsh", "dev"]
        children = _descendants(proc.pid)
        assert children, "the stack runs child processes"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        assert eventually_sync(lambda: not [p for p in children if _running(p)], timeout=10, what="every child stopped")
        assert "stopped" in log.read_text()

        # again: same data, same demo workspace (its container outlived the control plane)
        proc = _up(state, env, log)
        eventually_sync(
            lambda: log.read_text().count(f"demo workspace {ws_id} is running") >= 2, timeout=120, what="second start"
        )
        assert len(containers_of(host_id)) == 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
