"""``/api/v1/audit``: the audit projection, filtered and paged by log position."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.schemas import AuditEntry, AuditPage
from wws_api.state import AppServices
from wws_store.projection import checkpoint


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", summary="List audit events (oldest first)", opt=policy("audit.read", "org"))
    async def list_events(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[AppServices],
        workspace: FromQuery[uuid.UUID | None] = None,
        actor: FromQuery[str | None] = None,
        type: Annotated[  # noqa: A002 - the query parameter is called "type"
            str | None,
            QueryParameter(description="event type, e.g. workspace.stop_requested; a trailing * matches a prefix"),
        ] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        cursor: Annotated[int, QueryParameter(ge=0, description="position to continue after")] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    ) -> AuditPage:
        type_exact = type if type and not type.endswith("*") else None
        type_prefix = type[:-1] if type and type.endswith("*") else None
        rows = await services.pool.fetch(
            """SELECT * FROM audit_log WHERE org_id = $1 AND position > $2
                 AND ($3::uuid IS NULL OR workspace_id = $3)
                 AND ($4::text IS NULL OR actor_id = $4 OR actor_type || ':' || actor_id = $4)
                 AND ($5::text IS NULL OR event_type = $5)
                 AND ($6::text IS NULL OR starts_with(event_type, $6))
                 AND ($7::timestamptz IS NULL OR occurred_at >= $7)
                 AND ($8::timestamptz IS NULL OR occurred_at < $8)
               ORDER BY position LIMIT $9""",
            request.user.org_id,
            cursor,
            workspace,
            actor,
            type_exact,
            type_prefix,
            since,
            until,
            limit + 1,
        )
        items = [
            AuditEntry(
                position=r["position"],
                event_id=r["event_id"],
                type=r["event_type"],
                stream_type=r["stream_type"],
                stream_id=r["stream_id"],
                workspace_id=r["workspace_id"],
                org_id=r["org_id"],
                actor_type=r["actor_type"],
                actor_id=r["actor_id"],
                source_ip=str(r["source_ip"]) if r["source_ip"] is not None else None,
                host_id=r["host_id"],
                outcome=r["outcome"],
                reason=r["reason"],
                occurred_at=r["occurred_at"],
                recorded_at=r["recorded_at"],
                correlation_id=r["correlation_id"],
                summary=r["summary"],
                data=msgspec.json.decode(r["data"]),
            )
            for r in rows[:limit]
        ]
        head = await services.pool.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events")
        return AuditPage(
            items=items,
            next_cursor=items[-1].position if len(rows) > limit else None,
            projection_position=await checkpoint(services.pool, "audit_log"),
            head_position=int(head),
        )
