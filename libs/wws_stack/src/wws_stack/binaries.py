"""Locating executables that wheels install next to the interpreter."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


def find(name: str) -> Path:
    """``name`` from this environment's scripts directory, else from PATH."""
    for candidate in (Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (is the environment synced? run ./just sync)")
    return Path(found)
