"""Process lifecycle shared by the services: run until SIGTERM/SIGINT, then drain."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Call ``run(stop)``; the first SIGTERM/SIGINT sets ``stop``, the second cancels."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def _signal() -> None:
        if stop.is_set() and task is not None:
            task.cancel()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _signal)
    try:
        await run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def wait_any(*events: asyncio.Event, timeout: float | None) -> None:
    """Return when any event is set or ``timeout`` passes, whichever is first."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
