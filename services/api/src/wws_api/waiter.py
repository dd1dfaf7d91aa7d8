"""``?wait=`` support: wakes on the read model's NOTIFY and re-reads the workspace row."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("wws.waiter")


class ReadModelWaiter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._tick = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        try:
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener("wws_projection", self._notified)
        except (OSError, asyncpg.PostgresError) as exc:  # fall back to polling
            log.warning("waiter.listen_failed", error=str(exc))

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()

    def _notified(self, *_: object) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def wait_for(self, workspace_id: uuid.UUID, query: str, done: Callable[[Any], bool], timeout: float) -> Any:
        """Re-run ``query`` ($1 = workspace id) after each projection commit until ``done(row)``
        or ``timeout``; returns the last row read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tick = self._tick
            row = await self.pool.fetchrow(query, workspace_id)
            remaining = deadline - loop.time()
            if done(row) or remaining <= 0:
                return row
            try:
                async with asyncio.timeout(min(remaining, 0.5 if self._listener is None else 2.0)):
                    await tick.wait()
            except TimeoutError:
                pass

    async def changed(self, timeout: float) -> bool:
        """Wait for the next projection commit (True) or ``timeout`` (False)."""
        tick = self._tick
        try:
            async with asyncio.timeout(timeout if self._listener is not None else min(timeout, 0.5)):
                await tick.wait()
        except TimeoutError:
            return False
        return True

    async def wait_position(self, projection: str, position: int, timeout: float) -> bool:
        """Until ``projection`` has applied ``position`` (read-your-writes); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tick = self._tick
            done = await self.pool.fetchval(
                "SELECT position >= $2 FROM wws_checkpoints WHERE name = $1", projection, position
            )
            remaining = deadline - loop.time()
            if done or remaining <= 0:
                return bool(done)
            try:
                async with asyncio.timeout(min(remaining, 0.05 if self._listener is None else 1.0)):
                    await tick.wait()
            except TimeoutError:
                pass
