"""The idle rule, pure: which running workspaces are due to stop at ``now``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from wws_events.ids import command_id


class IdleView(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    status: str
    last_activity_at: datetime
    last_signal: str
    idle_timeout_s: float | None = None
    """The workspace's own timeout (its template's or its own); None: the reaper's default."""
    warned_for: datetime | None = None
    """The idle period (by its start) already warned about."""


class IdleStop(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    idle_since: datetime
    reason: str

    @property
    def command_id(self) -> uuid.UUID:
        """The same for every reaper that decides this stop: a restarted reaper cannot stop twice."""
        return command_id("reap", self.workspace_id, self.idle_since.isoformat())


def _human(delta: timedelta) -> str:
    secs = int(delta.total_seconds())
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class IdleWarning(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    idle_since: datetime
    stop_at: datetime
    last_signal: str

    @property
    def command_id(self) -> uuid.UUID:
        return command_id("warn-idle", self.workspace_id, self.idle_since.isoformat())


def warnings(
    views: Iterable[IdleView], now: datetime, default_timeout: timedelta, warn_before: timedelta
) -> list[IdleWarning]:
    """Running workspaces that reach ``timeout - warn_before`` of idleness and were not
    warned about this idle period yet."""
    out = []
    for v in views:
        if v.status != "running" or v.warned_for == v.last_activity_at:
            continue
        timeout = timedelta(seconds=v.idle_timeout_s) if v.idle_timeout_s else default_timeout
        if now - v.last_activity_at >= max(timedelta(0), timeout - warn_before):
            stop_at = max(v.last_activity_at + timeout, now)
            out.append(
                IdleWarning(
                    workspace_id=v.workspace_id,
                    idle_since=v.last_activity_at,
                    stop_at=stop_at,
                    last_signal=v.last_signal,
                )
            )
    return out


def due(views: Iterable[IdleView], now: datetime, default_timeout: timedelta) -> list[IdleStop]:
    """Running workspaces idle past their timeout whose idle period was warned about (a
    workspace found idle without a warning is warned first, stopped at a later tick)."""
    out = []
    for v in views:
        if v.status != "running" or v.warned_for != v.last_activity_at:
            continue
        timeout = timedelta(seconds=v.idle_timeout_s) if v.idle_timeout_s else default_timeout
        idle = now - v.last_activity_at
        if idle >= timeout:
            out.append(
                IdleStop(
                    workspace_id=v.workspace_id,
                    idle_since=v.last_activity_at,
                    reason=(
                        f"idle for {_human(idle)} (timeout {_human(timeout)}); "
                        f"last signal {v.last_signal} at {v.last_activity_at.isoformat()}"
                    ),
                )
            )
    return out
