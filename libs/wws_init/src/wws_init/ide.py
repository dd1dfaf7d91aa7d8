"""code-server, started on the container's IDE port with WWS doing the authentication
(``--auth none``: the port is published on the host's loopback only and reached through
WWS). It is a child of the init, which restarts it if it dies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from wws_init.steps import StepFailed, Steps

BINARY = "code-server"
FLAGS = ("--auth", "none", "--disable-telemetry", "--disable-update-check")


class IDE:
    def __init__(self, port: int, folder: Path, env: Mapping[str, str], log: Path) -> None:
        self.port = port
        self.folder = folder
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def available(self) -> bool:
        return shutil.which(BINARY, path=self.env.get("PATH", os.environ.get("PATH"))) is not None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [BINARY, "--bind-addr", f"0.0.0.0:{self.port}", *FLAGS, str(self.folder)],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return "status" in json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise StepFailed(
                    f"code-server exited with {self.proc.returncode}",
                    exit_code=self.proc.returncode,
                    output=_tail(self.log),
                )
            if self.healthy():
                return
            time.sleep(0.2)
        raise StepFailed(f"code-server did not answer /healthz within {int(timeout)}s", output=_tail(self.log))

    def keep_alive(self) -> None:
        """Called periodically by the init: restart a dead code-server (at most 5 times)."""
        if self.proc is None or self.proc.poll() is None or self.restarts >= 5:
            return
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-4000:]
    except OSError:
        return ""


def start(steps: Steps, ide: IDE) -> bool:
    def work() -> str:
        if not ide.available():
            raise StepFailed("this image has no code-server (use a dev template, or languages)", exit_code=127)
        ide.start()
        ide.wait_healthy()
        return f"code-server answering on port {ide.port}"

    return steps.run("ide", "code-server", work)


def install_extensions(steps: Steps, ide: IDE, extensions: list[str]) -> None:
    """Best effort (the marketplace may be unreachable): failures are recorded, not degrading."""
    for ext in extensions:
        steps.run("extensions", ext, partial(_install, steps, ide, ext), degrades=False)


def _install(steps: Steps, ide: IDE, ext: str) -> str:
    steps.command([BINARY, "--install-extension", ext], env=ide.env, timeout=300, log_name=f"extension-{ext}")
    return "installed"
