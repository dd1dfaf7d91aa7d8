"""Per-user token buckets in PostgreSQL, so every API replica counts against the same
bucket (the row lock serialises concurrent requests of one user)."""

from __future__ import annotations

import asyncpg

from wws_service.clock import Clock


class RateLimits:
    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, per_min: float, burst: int) -> None:
        self.pool = pool
        self.clock = clock
        self.rate = per_min / 60.0
        self.burst = float(burst)

    async def take(self, key: str) -> float:
        """0 when a token was taken; else the seconds until one is available."""
        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO api_rate_limits (key, tokens, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                key,
                self.burst,
                now,
            )
            row = await conn.fetchrow("SELECT tokens, updated_at FROM api_rate_limits WHERE key = $1 FOR UPDATE", key)
            assert row is not None  # inserted just above, and rows are never deleted
            elapsed = max(0.0, (now - row["updated_at"]).total_seconds())
            level = min(self.burst, float(row["tokens"]) + elapsed * self.rate)
            taken = level >= 1.0
            await conn.execute(
                "UPDATE api_rate_limits SET tokens = $2, updated_at = $3 WHERE key = $1",
                key,
                level - 1.0 if taken else level,
                now,
            )
        return 0.0 if taken else (1.0 - level) / self.rate
