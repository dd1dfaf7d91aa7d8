"""Quota budgets for a workspace decision, read so that concurrent decisions cannot
overshoot: take the append lock first (no event can be appended by anyone until this
transaction ends), bring the read model to the head inside the transaction, then sum
what the organization and the owner hold. ``decide`` compares; the append follows in the
same transaction, still under the lock.

Organizations without any limit skip all of this (no lock taken).
"""

from __future__ import annotations

import uuid

import msgspec

from wws_api.readmodel import READ_MODEL
from wws_events.quota import Budget, Limits, QuotaCheck, Usage
from wws_store import projection
from wws_store.db import Conn, Executor
from wws_store.eventstore import APPEND_LOCK

_limits = msgspec.json.Decoder(Limits)
# a running workspace uses CPU and memory; a live one uses its disk
_USAGE = """
SELECT count(*) AS workspaces,
       count(*) FILTER (WHERE status NOT IN ('stopped', 'failed')) AS running,
       coalesce(sum(cpu) FILTER (WHERE status NOT IN ('stopped', 'failed')), 0) AS cpu,
       coalesce(sum(memory_mb) FILTER (WHERE status NOT IN ('stopped', 'failed')), 0) AS memory_mb,
       coalesce(sum(disk_gb), 0) AS disk_gb
FROM api_workspaces WHERE org_id = $1 AND status <> 'deleted' AND workspace_id <> $2
"""


async def limits_for(db: Executor, org_id: str, user_id: str) -> tuple[Limits, Limits]:
    """(organization limits, the user's limits: their own, else the default for members)."""
    rows = {
        r["scope"]: _limits.decode(r["limits"])
        for r in await db.fetch(
            "SELECT scope, limits FROM id_quotas WHERE org_id = $1 AND scope = ANY($2::text[])",
            org_id,
            ["org", "default_user", f"user:{user_id}"],
        )
    }
    return rows.get("org", Limits()), rows.get(f"user:{user_id}", rows.get("default_user", Limits()))


async def usage(db: Executor, org_id: str, owner_id: str | None, exclude: uuid.UUID | None = None) -> Usage:
    sql = _USAGE + (" AND owner_id = $3" if owner_id is not None else "")
    args: list[object] = [org_id, exclude or uuid.UUID(int=0)]
    if owner_id is not None:
        args.append(owner_id)
    r = await db.fetchrow(sql, *args)
    assert r is not None  # an aggregate without GROUP BY always has one row
    return Usage(
        workspaces=r["workspaces"],
        running=r["running"],
        cpu=float(r["cpu"]),
        memory_mb=int(r["memory_mb"]),
        disk_gb=int(r["disk_gb"]),
    )


async def budgets(conn: Conn, org_id: str, owner_id: str, workspace_id: uuid.UUID) -> QuotaCheck | None:
    """The check for a decision about ``workspace_id`` (owned by ``owner_id``), or None when
    nothing is limited. Must run inside the transaction that appends the decision."""
    org_limits, user_limits = await limits_for(conn, org_id, owner_id)
    if org_limits == Limits() and user_limits == Limits():
        return None
    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
    await projection.catch_up_in(conn, READ_MODEL)
    return QuotaCheck(
        budgets=[
            Budget(scope="org", limits=org_limits, usage=await usage(conn, org_id, None, workspace_id)),
            Budget(
                scope=f"user:{owner_id}", limits=user_limits, usage=await usage(conn, org_id, owner_id, workspace_id)
            ),
        ]
    )
