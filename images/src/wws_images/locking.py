"""One build of an image at a time on this host (concurrent agents, test workers)."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(key: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` named ``key`` (released when the process ends, too)."""
    directory = Path(tempfile.gettempdir()) / "wws-images-locks"
    directory.mkdir(mode=0o700, exist_ok=True)
    with (directory / f"{key}.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
