"""Each workspace's directory on the host (``<runtime_dir>/<workspace>``, mounted at
``/run/wws``): the init's configuration, the secret files (a tmpfs: never a disk, never
the home volume, never an image layer) and the init's report files. Plus one read-only
copy of the init program for all workspaces.

The secrets directory of one start::

    secrets/<name>            the workspace's own secrets (git-token)
    secrets/env/<VARIABLE>    the owner's secrets injected as environment variables
    secrets/files/<name>      the owner's secrets injected as files (the init links them)
    secrets/user.json         what the owner's secrets are, without their values
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import structlog

import wws_init
from wws_provisioner.hoststate import StartSecrets

log = structlog.get_logger("wws.agent.workdir")

WORKSPACE_UID = 1000
"""Owner of what the workspace user must read or write (the `dev` user of WWS images)."""

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
FILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_TARGET = 255
RESERVED = frozenset({"env", "files", "user.json"})
"""Names in ``secrets/`` taken by the owner's secrets: no workspace secret may shadow them."""


def _file_name_ok(name: str) -> bool:
    return FILE_NAME.fullmatch(name) is not None and name not in (".", "..")


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value)
    os.chown(path, WORKSPACE_UID, WORKSPACE_UID)


def _skip(workspace_id: uuid.UUID, name: str, reason: str) -> None:
    # the name comes from the wire: cut and repr'd so it cannot forge log lines; never the value
    log.warning("agent.secret_skipped", workspace_id=str(workspace_id), secret=repr(name[:80]), reason=reason)


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

    def prepare(self, workspace_id: uuid.UUID, config: dict[str, Any], secrets: StartSecrets) -> str:
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
        for name, value in secrets.workspace.items():
            if not _file_name_ok(name) or name in RESERVED:
                _skip(workspace_id, name, "not a valid workspace secret name")
                continue
            _write_secret(sec / name, value)
        self._write_user_secrets(workspace_id, sec, secrets)
        os.chown(sec, WORKSPACE_UID, WORKSPACE_UID)
        sec.chmod(0o500)
        return str(ws)

    @staticmethod
    def _write_user_secrets(workspace_id: uuid.UUID, sec: Path, secrets: StartSecrets) -> None:
        """``env/``, ``files/`` and the value-free ``user.json`` the init and the shells read.
        Names and targets come from the wire: anything the init could misuse as a path or a
        variable name is left out (and logged without its value)."""
        env_dir, files_dir = sec / "env", sec / "files"
        for d in (env_dir, files_dir):
            d.mkdir(mode=0o700)
        manifest: list[dict[str, str]] = []
        names: set[str] = set()
        env_targets: set[str] = set()
        for s in secrets.user:
            if not _file_name_ok(s.name):
                _skip(workspace_id, s.name, "not a valid secret name")
                continue
            if s.name in names:
                _skip(workspace_id, s.name, "a secret of this name was already written")
                continue
            if s.inject == "env":
                if ENV_NAME.fullmatch(s.target) is None:
                    _skip(workspace_id, s.name, "its target is not a valid environment variable name")
                    continue
                if s.target in env_targets:
                    _skip(workspace_id, s.name, f"another secret already sets {s.target}")
                    continue
                env_targets.add(s.target)
                _write_secret(env_dir / s.target, s.value)
            else:
                # the init checks where the link may go (it knows the home directory); here
                # only what no path could be
                if not s.target or len(s.target) > MAX_TARGET or "\x00" in s.target:
                    _skip(workspace_id, s.name, "its target is not a usable path")
                    continue
                _write_secret(files_dir / s.name, s.value)
            names.add(s.name)
            manifest.append({"name": s.name, "inject": s.inject, "target": s.target})
        _write_secret(sec / "user.json", json.dumps(manifest))
        for d in (env_dir, files_dir):
            os.chown(d, WORKSPACE_UID, WORKSPACE_UID)
            d.chmod(0o500)

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
