"""The Podman REST API service: use the host's if it answers, else run one ourselves."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from pathlib import Path


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def ping(socket_path: Path, timeout: float = 2.0) -> bool:
    try:
        conn = _UnixHTTPConnection(str(socket_path), timeout)
        conn.request("GET", "/_ping")
        ok = conn.getresponse().read().strip() == b"OK"
        conn.close()
        return ok
    except OSError:
        return False


class PodmanService:
    """``podman system service`` on ``socket_path`` (started only when nothing answers there)."""

    def __init__(self, socket_path: Path, log_file: Path) -> None:
        self.socket_path = socket_path
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def started_here(self) -> bool:
        return self._proc is not None

    def start(self, timeout: float = 15.0) -> PodmanService:
        if ping(self.socket_path):
            return self
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.url], stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ping(self.socket_path):
                return self
            if self._proc.poll() is not None:
                raise RuntimeError(f"podman system service exited ({self._proc.returncode}); see {self.log_file}")
            time.sleep(0.05)
        raise TimeoutError(f"podman system service did not answer on {self.socket_path}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
