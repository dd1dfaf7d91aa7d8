"""Proxy overhead: reaching a workspace through the API vs directly, same run.

    uv run python -m bench.reach [--n 300]

1. IDE HTTP: ``GET …/ide/healthz`` through the API (→ the host's gateway → code-server in
   the workspace) vs the same request straight to code-server (a keep-alive connection
   into the workspace's network namespace, which is as direct as it gets: code-server is
   not published on the host);
2. WebSocket echo round trip through the API (``…/ports/9000/``) vs straight to the same
   echo server in the workspace;
3. terminal keystroke echo: a character typed into ``WS …/terminal`` until it comes back.

Each pair runs interleaved (A, B, A, B…) over warm connections so drift hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect

from bench.run import TOKEN, Bench, summary
from wws_images import builder
from wws_provisioner.gateway import netns

IDE_IMAGE = "localhost/wws-ide:bookworm"
ECHO_PORT = 9000
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _pid(container: str) -> int:
    out = subprocess.run(
        ["podman", "inspect", container, "--format", "{{.State.Pid}}"], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def _ready(bench: Bench, ws: str) -> None:
    deadline = time.monotonic() + 600
    with bench.http() as c:
        while time.monotonic() < deadline:
            view = c.get(f"/api/v1/workspaces/{ws}").json()
            if view["status"] == "failed":
                raise RuntimeError(view["last_error"])
            if view["ready"]:
                return
            time.sleep(0.5)
    raise RuntimeError("workspace not ready")


def _ratio(via: dict[str, float], direct: dict[str, float]) -> dict[str, float]:
    return {
        "ratio_median": via["median"] / direct["median"],
        "added_ms_median": via["median"] - direct["median"],
        "ratio_p95": via["p95"] / direct["p95"],
    }


async def _http(api: str, ws: str, pid: int, n: int) -> dict[str, Any]:
    via_t, direct_t = [], []
    async with (
        httpx.AsyncClient(base_url=api, headers=AUTH, timeout=30) as via,
        httpx.AsyncClient(transport=netns.NetnsTransport(pid), base_url="http://127.0.0.1:8080", timeout=30) as direct,
    ):
        for _ in range(20):  # warm: connections, code-server's caches
            (await via.get(f"/api/v1/workspaces/{ws}/ide/healthz")).raise_for_status()
            (await direct.get("/healthz")).raise_for_status()
        for _ in range(n):
            t0 = time.perf_counter()
            (await via.get(f"/api/v1/workspaces/{ws}/ide/healthz")).raise_for_status()
            via_t.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            (await direct.get("/healthz")).raise_for_status()
            direct_t.append((time.perf_counter() - t0) * 1000)
    via_s, direct_s = summary(via_t), summary(direct_t)
    floor = []
    async with httpx.AsyncClient(base_url=api, headers=AUTH, timeout=30) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            (await c.get(f"/api/v1/workspaces/{ws}")).raise_for_status()
            floor.append((time.perf_counter() - t0) * 1000)
    # the API's own floor for an authenticated, authorized read (no proxying): what the
    # proxy adds beyond it is the gateway hop
    return {"via_api": via_s, "direct": direct_s, "api_read": summary(floor), **_ratio(via_s, direct_s)}


async def _ws(api: str, ws: str, pid: int, n: int) -> dict[str, Any]:
    via_t, direct_t = [], []
    url = api.replace("http://", "ws://") + f"/api/v1/workspaces/{ws}/ports/{ECHO_PORT}/"
    sock = await netns.connect(pid, ECHO_PORT)
    async with (
        ws_connect(url, additional_headers=AUTH, compression=None) as via,
        ws_connect(f"ws://127.0.0.1:{ECHO_PORT}/", sock=sock, compression=None) as direct,
    ):
        msg = "x" * 64
        for _ in range(20):
            await via.send(msg)
            await via.recv()
            await direct.send(msg)
            await direct.recv()
        for _ in range(n):
            t0 = time.perf_counter()
            await via.send(msg)
            assert await via.recv() == msg
            via_t.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await direct.send(msg)
            assert await direct.recv() == msg
            direct_t.append((time.perf_counter() - t0) * 1000)
    via_s, direct_s = summary(via_t), summary(direct_t)
    return {"via_api": via_s, "direct": direct_s, **_ratio(via_s, direct_s)}


async def _terminal(api: str, ws: str, n: int) -> dict[str, Any]:
    url = api.replace("http://", "ws://") + f"/api/v1/workspaces/{ws}/terminal"
    times = []
    async with ws_connect(url, additional_headers=AUTH, compression=None) as term:

        async def until(marker: str, timeout: float = 10.0) -> None:
            seen = ""
            deadline = time.monotonic() + timeout
            while marker not in seen:
                message = json.loads(await asyncio.wait_for(term.recv(), max(0.01, deadline - time.monotonic())))
                if message["type"] == "output":
                    seen += message["data"]

        await term.send(json.dumps({"type": "input", "data": "stty -echoctl; PS1='$ '; echo rea''dy\r"}))
        await until("ready")
        await asyncio.sleep(0.5)
        for i in range(n):
            key = "abcdefghijklmnopqrstuvwxyz"[i % 26]
            t0 = time.perf_counter()
            await term.send(json.dumps({"type": "input", "data": key}))
            await until(key)
            times.append((time.perf_counter() - t0) * 1000)
            if i % 40 == 39:  # keep the line short
                await term.send(json.dumps({"type": "input", "data": "\x15"}))
                await asyncio.sleep(0.05)
    return {"keystroke_echo": summary(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    builder.build(builder.IDE, quiet=True)
    with tempfile.TemporaryDirectory(prefix="wws-bench-reach-") as tmp:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            gw = s.getsockname()[1]
        bench = Bench(Path(tmp), 0, extra_env={"WWS_PROVISIONER_GATEWAY_LISTEN": f"127.0.0.1:{gw}"})
        try:
            bench.start()
            with bench.http() as c:
                r = c.post(
                    "/api/v1/workspaces?wait=running",
                    json={
                        "name": f"reach-{uuid.uuid4().hex[:4]}",
                        "image": IDE_IMAGE,
                        "ide": True,
                        "memory_mb": 2048,
                        "cpu": 2,
                    },
                )
                r.raise_for_status()
                ws = r.json()["id"]
            _ready(bench, ws)
            container = f"wws-{ws}"
            echo = Path(__file__).parent / "assets" / "ws_echo.py"
            subprocess.run(["podman", "cp", str(echo), f"{container}:/tmp/ws_echo.py"], check=True)
            subprocess.run(
                ["podman", "exec", "-d", container, "python3", "/tmp/ws_echo.py", str(ECHO_PORT)],  # noqa: S108 - in the workspace
                check=True,
            )
            time.sleep(1)
            pid = _pid(container)
            api = f"http://127.0.0.1:{bench.api_port}"
            results = {
                "ide_http": asyncio.run(_http(api, ws, pid, args.n)),
                "websocket_echo": asyncio.run(_ws(api, ws, pid, args.n)),
                "terminal": asyncio.run(_terminal(api, ws, min(args.n, 200))),
            }
        finally:
            bench.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name in ("ide_http", "websocket_echo"):
        row = results[name]
        print(
            f"{name:15} via API {row['via_api']['median']:.2f} ms (p95 {row['via_api']['p95']:.2f})  "
            f"direct {row['direct']['median']:.2f} ms (p95 {row['direct']['p95']:.2f})  "
            f"ratio {row['ratio_median']:.2f}  added {row['added_ms_median']:.2f} ms"
        )
    print(
        f"{'api read':15} GET /workspaces/{{id}} {results['ide_http']['api_read']['median']:.2f} ms (the API's own floor)"
    )
    k = results["terminal"]["keystroke_echo"]
    print(f"{'terminal':15} keystroke echo p50 {k['median']:.2f} ms  p99 {k['p99']:.2f} ms (n={k['n']})")


if __name__ == "__main__":
    main()
