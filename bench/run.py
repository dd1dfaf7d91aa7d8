"""WWS benchmarks, each against its raw baseline measured in the same run.

    uv run python -m bench.run [--n 20]

1. cold create→running through the API (``?wait=running``) vs ``podman run -d`` of the same
   image and flags (CLI), and vs the same REST calls the agent makes (podman-py create+start);
2. stopped→running through the API vs ``podman start``;
3. control-plane round trip: API create→running minus the driver's own time (from the
   agent's ``operation_started`` to its outcome event), p50/p99;
4. HTTP accept latency (202, no wait).

Everything runs on this machine: NATS and PostgreSQL from their wheels, Podman from the
host, the API and the agent as processes. Results print as a table (and JSON with --json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from podman import PodmanClient

from wws_images import builder
from wws_stack.binaries import find
from wws_stack.natsd import NatsServer
from wws_stack.pg import EmbeddedPostgres
from wws_stack.podman_service import PodmanService

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for a throwaway stack
IMAGE = builder.BASE.ref
CPU, MEM_MB, DISK_GB = 0.5, 256, 1


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": pct(values, 95), "p99": pct(values, 99), "n": len(values)}


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], capture_output=True, check=True)


def raw_flags(name: str) -> list[str]:
    return [
        "--name", name, "--init", "--hostname", name, "--label", "bench=1",
        "--memory", f"{MEM_MB}m", "--memory-swap", f"{MEM_MB}m",
        "--cpu-period", "100000", "--cpu-quota", str(int(CPU * 100_000)), "--pids-limit", "4096",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none",
        "-v", f"{name}-home:/home/dev",
    ]  # fmt: skip


class Bench:
    def __init__(self, root: Path, n: int, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.n = n
        self.extra_env = extra_env or {}
        self.host_id = f"bench-{uuid.uuid4().hex[:6]}"
        self.nats = NatsServer(root / "js", port=-1, log_file=root / "nats.log")
        self.pg = EmbeddedPostgres(root / "pg" / "data", cleanup="delete")
        self.podman = PodmanService(Path("/run/podman/podman.sock"), root / "podman.log")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.walls: dict[str, tuple[datetime, datetime]] = {}
        self.api_port = 0

    # ------------------------------------------------------------------ set-up

    def start(self) -> None:
        builder.build(builder.BASE, quiet=True)
        self.nats.start()
        self.pg.start()
        dsn = self.pg.create_database("wws")
        self.podman.start()
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.api_port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WWS_")}
        env.update(
            WWS_NATS_URL=self.nats.url,
            WWS_DATABASE_URL=dsn,
            WWS_API_ADMIN_TOKEN=TOKEN,
            WWS_API_HTTP_PORT=str(self.api_port),
            WWS_PROVISIONER_HOST_ID=self.host_id,
            WWS_PROVISIONER_PODMAN_URL=self.podman.url,
            WWS_LOG_LEVEL="warning",
            WWS_API_CPU_OVERCOMMIT="64",
            WWS_API_MEMORY_OVERCOMMIT="4",
        )
        env.update(self.extra_env)
        self.dsn = dsn
        for argv in ([str(find("wws-api")), "serve"], [str(find("wws-provisioner"))]):
            log = (self.root / f"{Path(argv[0]).name}.log").open("ab")
            self.procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                hosts = self.http().get("/api/v1/hosts").json()["items"]
                if any(h["id"] == self.host_id and h["status"] == "live" for h in hosts):
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("stack did not come up")

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            p.wait(20)
        subprocess.run(
            ["podman", "rm", "-f", "-t", "0", "--filter", f"label=wws.host={self.host_id}"],
            capture_output=True,
            check=False,
        )
        subprocess.run(["podman", "rm", "-f", "-t", "0", "--filter", "label=bench=1"], capture_output=True, check=False)
        subprocess.run(
            ["podman", "volume", "prune", "-f", "--filter", f"label=wws.host={self.host_id}"],
            capture_output=True,
            check=False,
        )
        for i in range(self.n + 2):
            subprocess.run(
                ["podman", "volume", "rm", "-f", f"bench-raw-{i}-home", f"bench-rest-{i}-home"],
                capture_output=True,
                check=False,
            )
        self.podman.stop()
        self.pg.stop()
        self.nats.stop()

    # ------------------------------------------------------------------ measurements

    def wws_create(self, c: httpx.Client, i: int) -> tuple[float, str]:
        wall0 = datetime.now(UTC)
        t0 = time.perf_counter()
        r = c.post(
            "/api/v1/workspaces?wait=running",
            json={"name": f"b{i}-{uuid.uuid4().hex[:4]}", "cpu": CPU, "memory_mb": MEM_MB, "disk_gb": DISK_GB},
        )
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(r.text)
        self.walls[r.json()["id"]] = (wall0, wall0 + timedelta(milliseconds=ms))
        return ms, r.json()["id"]

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        n = self.n
        with self.http() as c:
            # warm-up: one of each, not counted (first image layer reads, Python imports)
            _, warm = self.wws_create(c, -1)
            subprocess.run(
                ["podman", "run", "-d", *raw_flags("bench-raw-warm"), IMAGE], capture_output=True, check=True
            )

            wws_ms, ids = [], []
            raw_ms, rest_ms = [], []
            client = PodmanClient(base_url=self.podman.url)
            for i in range(n):
                # interleave so drift on the machine hits both equally
                ms, ws = self.wws_create(c, i)
                wws_ms.append(ms)
                ids.append(ws)
                raw_ms.append(timed(partial(podman, "run", "-d", *raw_flags(f"bench-raw-{i}"), IMAGE)))

                def rest(i: int = i) -> None:
                    name = f"bench-rest-{i}"
                    client.volumes.create(f"{name}-home")
                    ct = client.containers.create(
                        IMAGE, name=name, hostname=name, labels={"bench": "1"}, init=True,
                        mem_limit=f"{MEM_MB}m", memswap_limit=f"{MEM_MB}m", cpu_period=100_000, cpu_quota=int(CPU * 100_000),
                        pids_limit=4096, cap_drop=["ALL"], no_new_privileges=True, network_mode="none",
                        volumes={f"{name}-home": {"bind": "/home/dev", "mode": "rw"}},
                    )  # fmt: skip
                    ct.start()

                rest_ms.append(timed(rest))
            out["create_wws_ms"] = summary(wws_ms)
            out["create_podman_run_ms"] = summary(raw_ms)
            out["create_podman_rest_ms"] = summary(rest_ms)
            out["create_ratio_vs_podman_run"] = statistics.median(wws_ms) / statistics.median(raw_ms)
            out["create_ratio_vs_podman_rest"] = statistics.median(wws_ms) / statistics.median(rest_ms)
            out["create_ratio_p95_vs_podman_run"] = pct(wws_ms, 95) / pct(raw_ms, 95)

            # control-plane share of each create: total minus the driver's time on the host
            driver = asyncio.run(self.driver_ms(ids))
            for step, values in asyncio.run(self.breakdown(ids)).items():
                out[f"step_{step}_ms"] = summary(values)
            cp = [total - driver[ws] for total, ws in zip(wws_ms, ids, strict=True)]
            out["control_plane_ms"] = summary(cp)
            out["driver_ms"] = summary(list(driver.values()))

            # stopped → running
            start_wws, start_raw = [], []
            for i, ws in enumerate(ids):
                r = c.post(f"/api/v1/workspaces/{ws}/stop?wait=stopped")
                assert r.status_code == 200, r.text
                subprocess.run(["podman", "stop", "-t", "10", f"bench-raw-{i}"], capture_output=True, check=True)
                t0 = time.perf_counter()
                r = c.post(f"/api/v1/workspaces/{ws}/start?wait=running")
                start_wws.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
                start_raw.append(timed(partial(podman, "start", f"bench-raw-{i}")))
            out["start_wws_ms"] = summary(start_wws)
            out["start_podman_ms"] = summary(start_raw)
            out["start_ratio"] = statistics.median(start_wws) / statistics.median(start_raw)

            # HTTP accept (202): decide + one transaction + read-your-writes, no host involved
            accept = []
            for i in range(n):
                t0 = time.perf_counter()
                r = c.post(f"/api/v1/workspaces/{ids[i % len(ids)]}/stop")
                accept.append((time.perf_counter() - t0) * 1000)
                c.get(f"/api/v1/workspaces/{ids[i % len(ids)]}")
                c.post(f"/api/v1/workspaces/{ids[i % len(ids)]}/start?wait=running") if r.status_code == 202 else None
            out["accept_202_ms"] = summary(accept)
            del warm
        return out

    async def breakdown(self, ids: list[str]) -> dict[str, list[float]]:
        """Where a create's control-plane time goes: timestamps from the client, the log
        (``recorded_at`` is Postgres's clock inside the appending transaction) and the
        agent's events (``occurred_at``), all on this one machine's clock."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                """SELECT stream_id,
                     max(recorded_at) FILTER (WHERE event_type = 'workspace.scheduled') AS decided,
                     max(occurred_at) FILTER (WHERE event_type = 'workspace.operation_started') AS picked,
                     max(occurred_at) FILTER (WHERE event_type = 'workspace.provision_succeeded') AS done,
                     max(recorded_at) FILTER (WHERE event_type = 'workspace.provision_succeeded') AS recorded
                   FROM wws_events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id""",
                ids,
            )
        finally:
            await conn.close()

        def ms(a: datetime, b: datetime) -> float:
            return (b - a).total_seconds() * 1000

        steps: dict[str, list[float]] = {
            "request_to_decided": [],
            "decided_to_agent": [],
            "outcome_to_recorded": [],
            "recorded_to_response": [],
        }
        for r in rows:
            start, end = self.walls[r["stream_id"]]
            steps["request_to_decided"].append(ms(start, r["decided"]))
            steps["decided_to_agent"].append(ms(r["decided"], r["picked"]))
            steps["outcome_to_recorded"].append(ms(r["done"], r["recorded"]))
            steps["recorded_to_response"].append(ms(r["recorded"], end))
        return steps

    async def driver_ms(self, ids: list[str]) -> dict[str, float]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                """SELECT stream_id, event_type, occurred_at FROM wws_events
                   WHERE stream_id = ANY($1::text[]) AND event_type IN ('workspace.operation_started', 'workspace.provision_succeeded')
                   ORDER BY global_position""",
                ids,
            )
        finally:
            await conn.close()
        first: dict[str, Any] = {}
        out: dict[str, float] = {}
        for r in rows:
            if r["event_type"] == "workspace.operation_started":
                first.setdefault(r["stream_id"], r["occurred_at"])
            elif r["stream_id"] not in out:
                out[r["stream_id"]] = (r["occurred_at"] - first[r["stream_id"]]).total_seconds() * 1000
        return out


def render(res: dict[str, Any]) -> str:
    def row(label: str, key: str) -> str:
        s = res[key]
        return f"| {label} | {s['median']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['n']} |"

    lines = [
        "| measurement | median ms | p95 ms | p99 ms | n |",
        "|---|---|---|---|---|",
        row("WWS create→running (API, ?wait=running)", "create_wws_ms"),
        row("baseline: podman run -d (CLI, same flags)", "create_podman_run_ms"),
        row("baseline: podman REST create+start (podman-py)", "create_podman_rest_ms"),
        row("WWS stopped→running (API)", "start_wws_ms"),
        row("baseline: podman start", "start_podman_ms"),
        row("control plane (create minus driver time)", "control_plane_ms"),
        row("driver time on the host (podman via REST)", "driver_ms"),
        row("HTTP accept (202, no wait)", "accept_202_ms"),
        row("  step: request → decision inserted", "step_request_to_decided_ms"),
        row("  step: decision → agent starts (commit, publish, pickup)", "step_decided_to_agent_ms"),
        row("  step: agent outcome → recorded in Postgres", "step_outcome_to_recorded_ms"),
        row("  step: recorded → HTTP response (commit, read model, reply)", "step_recorded_to_response_ms"),
        "",
        f"ratio create vs `podman run -d`: median {res['create_ratio_vs_podman_run']:.2f}, p95 {res['create_ratio_p95_vs_podman_run']:.2f}",
        f"ratio create vs podman REST create+start: {res['create_ratio_vs_podman_rest']:.2f}",
        f"ratio stopped→running vs `podman start`: {res['start_ratio']:.2f}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wws-bench-") as tmp:
        bench = Bench(Path(tmp), args.n)
        try:
            bench.start()
            res = bench.run()
        finally:
            bench.stop()
    print(json.dumps(res, indent=2) if args.json else render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
