"""Quotas: what an organization and each of its members may hold, checked inside
``decide`` against usage read under the append lock, so concurrent creates cannot
overshoot (the caller serialises the read and the append; ``decide`` stays pure).

Accounting follows the state, as Daytona's does: a running workspace (anything not
stopped, failed or deleted) uses CPU and memory; every live workspace uses its disk
(the home volume persists while stopped).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from wws_events.errors import DomainError
from wws_events.workspace import Resources

Dimension = Literal["workspaces", "running", "cpu", "memory_mb", "disk_gb"]


class Limits(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Upper bounds; None is unlimited."""

    max_workspaces: int | None = None
    max_running: int | None = None
    cpu: float | None = None
    """Total CPU cores of running workspaces."""
    memory_mb: int | None = None
    """Total memory of running workspaces."""
    disk_gb: int | None = None
    """Total home volumes of live workspaces."""
    workspace_cpu: float | None = None
    """Per workspace."""
    workspace_memory_mb: int | None = None
    workspace_disk_gb: int | None = None


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    workspaces: int = 0
    running: int = 0
    cpu: float = 0.0
    memory_mb: int = 0
    disk_gb: int = 0

    def plus(self, r: Resources, *, live: int, running: int) -> Usage:
        return Usage(
            workspaces=self.workspaces + live,
            running=self.running + running,
            cpu=self.cpu + r.cpu * running,
            memory_mb=self.memory_mb + r.memory_mb * running,
            disk_gb=self.disk_gb + r.disk_gb * live,
        )


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """One scope's limits and what it uses *without* the workspace being decided on."""

    scope: str
    """``org`` or ``user:<id>``, for the message."""
    limits: Limits
    usage: Usage


class QuotaCheck(msgspec.Struct, frozen=True, kw_only=True):
    budgets: list[Budget]


class QuotaExceeded(DomainError):
    code = "quota_exceeded"

    def __init__(self, scope: str, dimension: str, limit: float, would_be: float) -> None:
        self.scope, self.dimension, self.limit, self.would_be = scope, dimension, limit, would_be
        super().__init__(f"{scope} quota: {dimension} would be {would_be:g}, the limit is {limit:g}")


def check(quota: QuotaCheck | None, resources: Resources, *, live: bool, running: bool) -> None:
    """Raise ``QuotaExceeded`` when a workspace with ``resources`` in this state would
    break any budget. Without a check (system actors, quotas not configured) it passes."""
    if quota is None:
        return
    for b in quota.budgets:
        lim = b.limits
        for name, limit, value in (
            ("cpu per workspace", lim.workspace_cpu, resources.cpu),
            ("memory_mb per workspace", lim.workspace_memory_mb, resources.memory_mb),
            ("disk_gb per workspace", lim.workspace_disk_gb, resources.disk_gb),
        ):
            if limit is not None and value > limit:
                raise QuotaExceeded(b.scope, name, limit, value)
        after = b.usage.plus(resources, live=int(live), running=int(running))
        for dim, limit, value in (
            ("workspaces", lim.max_workspaces, after.workspaces),
            ("running", lim.max_running, after.running),
            ("cpu", lim.cpu, after.cpu),
            ("memory_mb", lim.memory_mb, after.memory_mb),
            ("disk_gb", lim.disk_gb, after.disk_gb),
        ):
            # only what this decision adds can break a limit: a user over a lowered limit
            # may still stop, delete or keep what they have
            grows = getattr(after, dim) > getattr(b.usage, dim)
            if limit is not None and grows and value > limit:
                raise QuotaExceeded(b.scope, dim, limit, value)
