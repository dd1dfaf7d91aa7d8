"""Time to a ready workspace, and image builds, each against a raw baseline in the same run.

    uv run python -m bench.ready [--n 5] [--ide] [--skip-images]

1. create → ready ("init finished") through the API for a template with a repository
   clone (token-authenticated, from ``git http-backend`` on this host), yadm dotfiles with
   a bootstrap and a bootstrap script, split by step from the init's own events; against
   the same work done by hand: ``podman run -d`` of the same image and network, then one
   ``podman exec`` running git clone, yadm clone + bootstrap and the scripts;
2. image builds of the dev image (``localhost/wws-dev:python``): cold (this image without
   Podman's layer cache; its parents cached) and cached (inputs unchanged → a no-op),
   against ``podman build`` of the same context with ``--no-cache`` / ``--layers``.

``--ide`` adds code-server to the template (the IDE step then shows in the split).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.run import Bench, pct, summary
from tests.fixtures.git import GitServer
from wws_images import builder, hostfiles, podman_cli
from wws_images.dev import definition, ensure_dev_image

LANGUAGES = ["python"]
LOOPBACK = "host.wws.internal"
TEMPLATE_BOOTSTRAP = "mkdir -p ~/.cache/wws-bench && echo template > ~/.cache/wws-bench/template"
WORKSPACE_BOOTSTRAP = "cd ~/src/api && python3 -m venv .venv && echo workspace > ~/.cache/wws-bench/workspace"
DOTFILES_BOOTSTRAP = '#!/bin/sh\nset -eu\nprintf "bootstrapped\\n" > "$HOME/.dotfiles-bootstrapped"\n'


def _run(*argv: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}… failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


class ReadyBench:
    def __init__(self, root: Path, n: int, ide: bool) -> None:
        self.root = root
        self.n = n
        self.ide = ide
        self.image = ensure_dev_image(LANGUAGES).ref
        self.git = GitServer(root / "git").start()
        self.git.create_repo(
            "acme/api",
            {"README.md": "# api\n", "pyproject.toml": '[project]\nname = "api"\nversion = "0"\n'},
            branch="main",
        )
        self.git.create_repo(
            "dotfiles",
            {".zshrc": "export WWS_BENCH_DOTFILES=1\n", ".config/yadm/bootstrap": DOTFILES_BOOTSTRAP},
            executable={".config/yadm/bootstrap"},
        )
        (root / "stack").mkdir()
        ports = 22000 + 100 * (os.getpid() % 40)
        self.stack = Bench(
            root / "stack",
            n,
            extra_env={
                "WWS_API_SECRET_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
                "WWS_PROVISIONER_RUNTIME_DIR": str(root / "run"),
                "WWS_PROVISIONER_ALLOW_HOST_LOOPBACK": "true",
                "WWS_PROVISIONER_IDE_PORTS": f"{ports}-{ports + 99}",
            },
        )
        self.raw_names: list[str] = []

    def close(self) -> None:
        for name in self.raw_names:
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)
            subprocess.run(["podman", "volume", "rm", "-f", f"{name}-home"], capture_output=True, check=False)
        self.stack.stop()
        subprocess.run(["umount", str(self.root / "run")], capture_output=True, check=False)
        self.git.stop()

    # ------------------------------------------------------------------ WWS

    def wws_ready(self, i: int) -> tuple[str, datetime]:
        with self.stack.http() as c:
            wall0 = datetime.now(UTC)
            r = c.post(
                "/api/v1/workspaces",
                json={
                    "name": f"ready-{i}-{uuid.uuid4().hex[:4]}",
                    "template": "bench",
                    "repository": {
                        "url": self.git.url("acme/api", host=LOOPBACK),
                        "branch": "main",
                        "token": self.git.token,
                    },
                    "dotfiles": {"url": self.git.url("dotfiles", host=LOOPBACK)},
                    "bootstrap": WORKSPACE_BOOTSTRAP,
                },
            )
            if r.status_code != 202:
                raise RuntimeError(r.text)
            ws = str(r.json()["id"])
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                view = c.get(f"/api/v1/workspaces/{ws}").json()
                if view["status"] == "failed":
                    raise RuntimeError(f"workspace failed: {view['last_error']}")
                if view["ready"]:
                    if view["degraded"]:
                        raise RuntimeError(f"workspace degraded: {view['failed_steps']}")
                    return ws, wall0
                time.sleep(0.05)
        raise RuntimeError("workspace not ready in 300 s")

    async def split(self, runs: list[tuple[str, datetime]]) -> dict[str, list[float]]:
        """Per-step durations from the init's events; total from the request to the
        agent's ``init_finished`` (same machine clock)."""
        conn = await asyncpg.connect(self.stack.dsn)
        try:
            rows = await conn.fetch(
                """SELECT stream_id, event_type, occurred_at, body FROM wws_events
                   WHERE stream_id = ANY($1::text[]) ORDER BY global_position""",
                [ws for ws, _ in runs],
            )
        finally:
            await conn.close()
        starts = dict(runs)
        out: dict[str, list[float]] = {"total_to_ready": [], "container_running": []}
        for r in rows:
            data = json.loads(r["body"])["data"]
            start = starts[r["stream_id"]]
            if r["event_type"] == "workspace.provision_succeeded":
                out["container_running"].append((r["occurred_at"] - start).total_seconds() * 1000)
            elif r["event_type"] == "workspace.init_step_succeeded":
                out.setdefault(f"{data['step']}:{data['name']}", []).append(float(data["duration_ms"]))
            elif r["event_type"] == "workspace.init_finished":
                out["init_total"] = [*out.get("init_total", []), float(data["duration_ms"])]
                out["total_to_ready"].append((r["occurred_at"] - start).total_seconds() * 1000)
        return out

    # ------------------------------------------------------------------ by hand

    def raw_ready(self, i: int) -> float:
        name = f"bench-ready-raw-{i}-{uuid.uuid4().hex[:4]}"
        self.raw_names.append(name)
        token = self.git.token
        url = self.git.url("acme/api", host=LOOPBACK).replace("http://", f"http://x-access-token:{token}@")
        dots = self.git.url("dotfiles", host=LOOPBACK).replace("http://", f"http://x-access-token:{token}@")
        script = " && ".join(
            [
                f"git clone -q --branch main {url} ~/src/api",
                f"yadm clone -q --no-bootstrap {dots}",
                "yadm bootstrap",
                TEMPLATE_BOOTSTRAP,
                WORKSPACE_BOOTSTRAP,
            ]
        )
        t0 = time.perf_counter()
        _run(
            "podman", "run", "-d", "--name", name, "--init", "--hostname", name,
            "--memory", "1024m", "--memory-swap", "1024m", "--cpu-period", "100000", "--cpu-quota", "100000",
            "--pids-limit", "4096", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--network", "slirp4netns:allow_host_loopback=true", "--add-host", f"{LOOPBACK}:10.0.2.2",
            "-v", f"{name}-home:/home/dev", "--entrypoint", "", self.image, "sleep", "infinity",
        )  # fmt: skip
        _run("podman", "exec", "-u", "dev", "-w", "/home/dev", name, "sh", "-c", script)
        return (time.perf_counter() - t0) * 1000

    def run(self) -> dict[str, Any]:
        self.stack.start()
        with self.stack.http() as c:
            r = c.post(
                "/api/v1/templates",
                json={
                    "name": "bench",
                    "languages": LANGUAGES,
                    "bootstrap": TEMPLATE_BOOTSTRAP,
                    "ide": self.ide,
                    "cpu": 1,
                    "memory_mb": 1024,
                },
            )
            if r.status_code != 201:
                raise RuntimeError(r.text)
        self.wws_ready(-1)  # warm-up: first init copy, first clone on this host
        self.raw_ready(-1)
        runs, raw = [], []
        for i in range(self.n):
            runs.append(self.wws_ready(i))
            raw.append(self.raw_ready(i))
        steps = asyncio.run(self.split(runs))
        out: dict[str, Any] = {f"ready_{k}_ms": summary(v) for k, v in steps.items() if v}
        out["ready_raw_ms"] = summary(raw)
        out["ready_ratio"] = statistics.median(steps["total_to_ready"]) / statistics.median(raw)
        out["ready_ratio_p95"] = pct(steps["total_to_ready"], 95) / pct(raw, 95)
        return out


def bench_images(n_cached: int) -> dict[str, Any]:
    """Dev image builds through WWS's builder vs ``podman build`` of the same context."""
    image = definition(LANGUAGES)
    ensure_dev_image(LANGUAGES)
    parent = builder.build(builder.DEFINITIONS[image.base or "ide"], quiet=True).hash_ref
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    cold = builder.build(image, quiet=True, force=True)
    out["image_cold_wws_s"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="wws-bench-ctx-") as tmp:
        ctx = Path(tmp)
        for path in sorted(p for p in image.directory.rglob("*") if p.is_file()):
            dest = ctx / path.relative_to(image.directory)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
        (ctx / "host-ca.crt").write_bytes(hostfiles.ca_bundle())
        (ctx / "debian.sources").write_text(hostfiles.debian_sources())
        tag = f"localhost/wws-bench-raw:{uuid.uuid4().hex[:8]}"
        args = {"BASE": parent, **image.build_args}
        t0 = time.perf_counter()
        podman_cli.build(ctx, tag, build_args=args, labels={}, quiet=True, no_cache=True)
        out["image_cold_podman_s"] = time.perf_counter() - t0
        cached_wws, cached_raw = [], []
        for _ in range(n_cached):
            t0 = time.perf_counter()
            again = builder.build(image, quiet=True)
            cached_wws.append((time.perf_counter() - t0) * 1000)
            if not again.cached or again.hash_ref != cold.hash_ref:
                raise RuntimeError(f"unchanged inputs rebuilt: {again}")
            t0 = time.perf_counter()
            podman_cli.build(ctx, tag, build_args=args, labels={}, quiet=True)
            cached_raw.append((time.perf_counter() - t0) * 1000)
        subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, check=False)
    out["image_cached_wws_ms"] = summary(cached_wws)
    out["image_cached_podman_ms"] = summary(cached_raw)
    out["image_cold_ratio"] = out["image_cold_wws_s"] / out["image_cold_podman_s"]
    out["image_cached_ratio"] = statistics.median(cached_wws) / statistics.median(cached_raw)
    return out


def render(res: dict[str, Any]) -> str:
    lines = ["| measurement | median ms | p95 ms | n |", "|---|---|---|---|"]
    order = ["ready_total_to_ready_ms", "ready_raw_ms", "ready_container_running_ms", "ready_init_total_ms"]
    order += sorted(k for k in res if k.startswith("ready_") and k.endswith("_ms") and k not in order)
    for key in order:
        s = res.get(key)
        if isinstance(s, dict):
            label = key.removeprefix("ready_").removesuffix("_ms")
            lines.append(f"| {label} | {s['median']:.0f} | {s['p95']:.0f} | {s['n']} |")
    if "ready_ratio" in res:
        lines.append("")
        lines.append(
            f"ratio create→ready vs by hand: median {res['ready_ratio']:.2f}, p95 {res['ready_ratio_p95']:.2f}"
        )
    if "image_cold_wws_s" in res:
        lines += [
            "",
            f"dev image cold (no layer cache): WWS {res['image_cold_wws_s']:.1f} s, podman build {res['image_cold_podman_s']:.1f} s, ratio {res['image_cold_ratio']:.2f}",
            f"dev image cached: WWS {res['image_cached_wws_ms']['median']:.0f} ms, podman build (all layers cached) {res['image_cached_podman_ms']['median']:.0f} ms, ratio {res['image_cached_ratio']:.2f}",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--ide", action="store_true", help="the template runs code-server")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-ready", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res: dict[str, Any] = {}
    if not args.skip_ready:
        with tempfile.TemporaryDirectory(prefix="wws-bench-ready-") as tmp:
            bench = ReadyBench(Path(tmp), args.n, args.ide)
            try:
                res.update(bench.run())
            finally:
                bench.close()
    if not args.skip_images:
        res.update(bench_images(max(3, args.n)))
    print(json.dumps(res, indent=2) if args.json else render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
