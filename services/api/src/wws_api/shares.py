"""Port sharing ("previews"): a port of a workspace at an unguessable URL
(``/api/v1/shares/<id>/``) for the owner and those the workspace is shared with, the
organization, or anyone with the link — for a limited time. Creating, extending, revoking
and expiring are events on the workspace's stream; a sweeper records expiries, and an
expired share stops working at once whatever the sweeper's pace."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import structlog

from wws_api import errors
from wws_api.auth import Principal
from wws_api.readmodel import apply_inline
from wws_api.service import WorkspaceService
from wws_api.settings import ApiSettings
from wws_events import Actor, DomainError
from wws_events import commands as c
from wws_events.aggregate import ShareNotFound
from wws_events.ids import command_id
from wws_events.workspace import ShareLevel
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any
from wws_store import handler
from wws_store.errors import ConcurrencyError

log = structlog.get_logger("wws.api.shares")
SYSTEM_SHARES = Actor(type="system", id="shares")


class ShareView(msgspec.Struct, kw_only=True):
    id: str
    workspace_id: uuid.UUID
    port: int
    level: str
    url: str
    expires_at: datetime
    created_by: str
    created_at: datetime


class ShareService:
    def __init__(self, pool: asyncpg.Pool, settings: ApiSettings, clock: Clock, workspaces: WorkspaceService) -> None:
        self.pool = pool
        self.settings = settings
        self.clock = clock
        self.workspaces = workspaces

    def url(self, base: str, share_id: str) -> str:
        return f"{(self.settings.public_url or base).rstrip('/')}/api/v1/shares/{share_id}/"

    def _until(self, expires_in_s: int) -> datetime:
        if expires_in_s > self.settings.share_max_ttl_s:
            raise errors.BadRequestField("expires_in_s", f"at most {self.settings.share_max_ttl_s} seconds")
        return self.clock.now() + timedelta(seconds=expires_in_s)

    async def create(
        self, principal: Principal, ws: uuid.UUID, port: int, level: ShareLevel, expires_in_s: int, base: str
    ) -> ShareView:
        share_id = secrets.token_urlsafe(16)
        command = c.SharePort(
            share_id=share_id, port=port, level=level, expires_at=self._until(expires_in_s), now=self.clock.now()
        )
        await self.workspaces.command(principal, ws, command, key=None, request_hash="")
        return await self._one(share_id, base)

    async def extend(
        self, principal: Principal, ws: uuid.UUID, share_id: str, expires_in_s: int, base: str
    ) -> ShareView:
        await self._mine(ws, share_id)
        command = c.ExtendShare(share_id=share_id, expires_at=self._until(expires_in_s), now=self.clock.now())
        await self.workspaces.command(principal, ws, command, key=None, request_hash="")
        return await self._one(share_id, base)

    async def revoke(self, principal: Principal, ws: uuid.UUID, share_id: str) -> None:
        await self._mine(ws, share_id)
        command = c.Unshare(share_id=share_id, reason="revoked", now=self.clock.now())
        await self.workspaces.command(principal, ws, command, key=None, request_hash="")

    async def list(self, ws: uuid.UUID, base: str) -> list[ShareView]:
        rows = await self.pool.fetch(
            "SELECT * FROM api_shares WHERE workspace_id = $1 AND expires_at > $2 ORDER BY created_at",
            ws,
            self.clock.now(),
        )
        return [self._view(r, base) for r in rows]

    async def live(self, share_id: str) -> Any:
        """The share behind a URL, or None when unknown or expired (then it does not work)."""
        return await self.pool.fetchrow(
            "SELECT * FROM api_shares WHERE share_id = $1 AND expires_at > $2", share_id, self.clock.now()
        )

    async def _mine(self, ws: uuid.UUID, share_id: str) -> None:
        if not await self.pool.fetchval(
            "SELECT 1 FROM api_shares WHERE share_id = $1 AND workspace_id = $2 AND expires_at > $3",
            share_id,
            ws,
            self.clock.now(),
        ):
            raise ShareNotFound(share_id)

    async def _one(self, share_id: str, base: str) -> ShareView:
        row = await self.pool.fetchrow("SELECT * FROM api_shares WHERE share_id = $1", share_id)
        if row is None:
            raise errors.NotFound("share", share_id)
        return self._view(row, base)

    def _view(self, r: Any, base: str) -> ShareView:
        return ShareView(
            id=r["share_id"],
            workspace_id=r["workspace_id"],
            port=r["port"],
            level=r["level"],
            url=self.url(base, r["share_id"]),
            expires_at=r["expires_at"],
            created_by=r["created_by"],
            created_at=r["created_at"],
        )

    # ------------------------------------------------------------------ expiry

    async def sweep(self) -> int:
        """Record every share past its expiry as ``workspace.port_unshared`` (reason
        expired); deterministic command ids make a second sweeper's attempt a no-op."""
        now = self.clock.now()
        rows = await self.pool.fetch(
            "SELECT share_id, workspace_id, expires_at FROM api_shares WHERE expires_at <= $1 LIMIT 200", now
        )
        done = 0
        for r in rows:
            ctx = handler.CommandContext(
                command_id=command_id("unshare", r["share_id"], r["expires_at"].isoformat()),
                actor=SYSTEM_SHARES,
                org_id=self.settings.org_id,
                now=now,
                deadline=now,
            )
            try:
                result = await handler.execute(
                    self.pool,
                    r["workspace_id"],
                    c.Unshare(share_id=r["share_id"], reason="expired", now=now),
                    ctx,
                    after_append=apply_inline,
                )
            except (DomainError, ConcurrencyError) as exc:
                log.info("shares.sweep_skip", share_id=r["share_id"], reason=str(exc))
                continue
            done += bool(result.stored)
        return done

    async def run(self, stop: asyncio.Event, interval_s: float = 5.0) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("shares.sweep_failed")
            await wait_any(stop, timeout=interval_s)
