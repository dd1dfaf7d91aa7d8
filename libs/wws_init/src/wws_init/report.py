"""Init → host agent: one JSON object per line in ``/run/wws/events-<run>.jsonl``. The
agent tails the file and turns each line into an event; a line is flushed and fsynced
before the next step starts, so an abrupt stop loses nothing already done."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

TAIL_LINES = 20
TAIL_WIDTH = 400


class Reporter:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, "run_id": self.run_id, "at": time.time(), **fields}, separators=(",", ":"))
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def tail(text: str, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a step's output, each cut to a readable width."""
    out = [ln[:TAIL_WIDTH] for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    return out[-lines:]
