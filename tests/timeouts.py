"""Named waits (coder's testutil/duration.go) and the one polling helper tests use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

WAIT_SHORT = 5.0
WAIT_MEDIUM = 15.0
WAIT_LONG = 60.0
INTERVAL_FAST = 0.025

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = WAIT_MEDIUM, interval: float = INTERVAL_FAST, what: str = ""
) -> T:
    """Await ``probe()`` until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}: last value {last!r}")
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T | None], *, timeout: float = WAIT_MEDIUM, interval: float = 0.1, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last is not None and last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}: last value {last!r}")
        time.sleep(interval)
