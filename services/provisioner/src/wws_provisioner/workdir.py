"""Each workspace's directory on the host (``<runtime_dir>/<workspace>``, mounted at
``/run/wws``): the init's configuration, the secret files (a tmpfs: never a disk, never
the home volume, never an image layer) and the init's report files. Plus one read-only
copy of the init program for all workspaces."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import wws_init

WORKSPACE_UID = 1000
"""Owner of what the workspace user must read or write (the `dev` user of WWS images)."""


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def is_tmpfs(path: Path) -> bool:
    target = str(path.resolve())
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(len(f := m.split()) > 2 and f[1] == target and f[2] == "tmpfs" for m in mounts)


class WorkspaceDirs:
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def ensure_tmpfs(self, size_mb: int = 256) -> bool:
        """Mount a tmpfs on the root unless one is there, so secret files never reach a disk.
        False (and the caller warns) when that is not possible (not root)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if is_tmpfs(self.root):
            return True
        result = subprocess.run(  # noqa: S603 - fixed argv
            ["/bin/mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0711,nosuid,nodev", "tmpfs", str(self.root)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0 and is_tmpfs(self.root)

    def init_program(self) -> str:
        """A read-only copy of ``wws_init`` (by content hash) to mount at /run/wws-init."""
        src = Path(wws_init.__file__).parent
        dest_root = self.root / "_init" / _tree_hash(src)
        if not (dest_root / "wws_init" / "__main__.py").exists():
            tmp = dest_root.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp / "wws_init", ignore=shutil.ignore_patterns("__pycache__"))
            for path in [tmp, *tmp.rglob("*")]:
                path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
            tmp.rename(dest_root)
        return str(dest_root)

    def path(self, workspace_id: uuid.UUID) -> Path:
        return self.root / str(workspace_id)

    def prepare(self, workspace_id: uuid.UUID, config: dict[str, Any], secrets: dict[str, str]) -> str:
        """Write the init config and secret files for one start; returns the directory."""
        ws = self.path(workspace_id)
        ws.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)
        os.chown(ws, WORKSPACE_UID, WORKSPACE_UID)
        ws.chmod(0o700)
        cfg = ws / "init.json"
        tmp = ws / ".init.json.tmp"
        tmp.write_text(json.dumps(config), encoding="utf-8")
        os.chown(tmp, WORKSPACE_UID, WORKSPACE_UID)
        tmp.replace(cfg)
        sec = ws / "secrets"
        shutil.rmtree(sec, ignore_errors=True)
        sec.mkdir(mode=0o700)
        for name, value in secrets.items():
            f = sec / name
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(value)
            os.chown(f, WORKSPACE_UID, WORKSPACE_UID)
        os.chown(sec, WORKSPACE_UID, WORKSPACE_UID)
        sec.chmod(0o500)
        return str(ws)

    def drop_secrets(self, workspace_id: uuid.UUID) -> None:
        """A stopped workspace keeps no secret on the host."""
        shutil.rmtree(self.path(workspace_id) / "secrets", ignore_errors=True)

    def remove(self, workspace_id: uuid.UUID) -> None:
        shutil.rmtree(self.path(workspace_id), ignore_errors=True)

    def events_file(self, workspace_id: uuid.UUID, run_id: uuid.UUID) -> Path:
        return self.path(workspace_id) / f"events-{run_id}.jsonl"

    def run_meta(self, workspace_id: uuid.UUID) -> tuple[str, uuid.UUID] | None:
        """(org id, correlation id) of the current run, from its init.json."""
        try:
            raw = json.loads((self.path(workspace_id) / "init.json").read_text(encoding="utf-8"))
            return str(raw["org_id"]), uuid.UUID(raw["correlation_id"])
        except (OSError, ValueError, KeyError):
            return None

    def current_run(self, workspace_id: uuid.UUID) -> uuid.UUID | None:
        try:
            return uuid.UUID(json.loads((self.path(workspace_id) / "init.json").read_text(encoding="utf-8"))["run_id"])
        except (OSError, ValueError, KeyError):
            return None
