"""Workspace containers as the agent labels them, made with the Podman CLI (through the
test's Podman service), for tests of what the gateway reads from running workspaces. The
``host_id`` fixture removes them and their volumes."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path


def podman(url: str, *args: str) -> str:
    return subprocess.run(["podman", "--url", url, *args], check=True, capture_output=True, text=True).stdout


def start_workspace(
    url: str,
    host_id: str,
    image: str,
    *,
    cpus: float = 0.5,
    memory: str = "256m",
    disk_gb: int | None = None,
) -> uuid.UUID:
    """A running ``wws-<uuid>`` container (``sleep infinity`` under catatonit), with a home
    volume ``wws-home-<uuid>`` labelled ``wws.disk_gb`` when ``disk_gb`` is given."""
    ws = uuid.uuid4()
    labels = ["--label", "wws.managed=true", "--label", f"wws.host={host_id}", "--label", f"wws.workspace={ws}"]
    mounts: list[str] = []
    if disk_gb is not None:
        podman(url, "volume", "create", *labels, "--label", f"wws.disk_gb={disk_gb}", f"wws-home-{ws}")
        mounts = ["-v", f"wws-home-{ws}:/home/dev"]
    podman(
        url,
        "run",
        "-d",
        "--init",
        *labels,
        "--name",
        f"wws-{ws}",
        f"--cpus={cpus}",
        f"--memory={memory}",
        *mounts,
        image,
        "sleep",
        "infinity",
    )
    return ws


def exec_detached(url: str, ws: uuid.UUID, script: str) -> None:
    podman(url, "exec", "-d", f"wws-{ws}", "sh", "-c", script)


def write_run_meta(runtime_dir: Path, ws: uuid.UUID, org_id: str) -> None:
    """The init.json the agent writes at a start (``WorkspaceDirs.run_meta`` reads it)."""
    d = runtime_dir / str(ws)
    d.mkdir(parents=True, exist_ok=True)
    meta = {"org_id": org_id, "correlation_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4())}
    (d / "init.json").write_text(json.dumps(meta))
