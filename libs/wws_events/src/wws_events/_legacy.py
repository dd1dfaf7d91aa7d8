"""Upcasters: old payload versions rewritten into the current shape on read.

Stored events are immutable; readers normalise. An entry ``(tag, n)`` turns the JSON
object of version ``n`` into version ``n + 1``. Producers only ever emit the current
version. Add an entry (and a golden file of the old shape) whenever a tag's
``SCHEMA_VERSION`` is bumped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcast(tag: str, version: int, target: int, data: dict[str, Any]) -> dict[str, Any]:
    """Apply upcasters from ``version`` to ``target``; a missing step is a programming error."""
    while version < target:
        step = UPCASTERS.get((tag, version))
        if step is None:
            raise LookupError(f"no upcaster for {tag} v{version} -> v{version + 1}")
        data = step(data)
        version += 1
    return data
