"""The API read model (``api_workspaces``, ``api_hosts``): a projection of the log that
stores the folded ``WorkspaceState`` beside queryable columns."""

from __future__ import annotations

import msgspec

from wws_events import Envelope, WorkspaceState, encode, evolve
from wws_events import host as h
from wws_events import template as t
from wws_events import workspace as w
from wws_store import projection
from wws_store.db import Conn
from wws_store.eventstore import StoredEvent
from wws_store.handler import Executed

_state = msgspec.json.Decoder(WorkspaceState)
_BUMPS_ACTIVITY = (
    w.WorkspaceProvisionSucceeded,
    w.WorkspaceStartSucceeded,
    w.WorkspaceRestartSucceeded,
    w.WorkspaceRebuildSucceeded,
)

_UPSERT = """
INSERT INTO api_workspaces (workspace_id, org_id, name, owner_id, status, host_id, image, template, cpu, memory_mb,
    disk_gb, generation, version, container_id, last_command_id, last_operation, last_error, created_at, updated_at,
    status_changed_at, last_activity_at, position, state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb, $18, $19, $20, $21, $22, $23::jsonb)
ON CONFLICT (workspace_id) DO UPDATE SET status = EXCLUDED.status, host_id = EXCLUDED.host_id, image = EXCLUDED.image,
    template = EXCLUDED.template, cpu = EXCLUDED.cpu, memory_mb = EXCLUDED.memory_mb, disk_gb = EXCLUDED.disk_gb,
    generation = EXCLUDED.generation, version = EXCLUDED.version, container_id = EXCLUDED.container_id,
    last_command_id = EXCLUDED.last_command_id, last_operation = EXCLUDED.last_operation,
    last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at, status_changed_at = EXCLUDED.status_changed_at,
    last_activity_at = EXCLUDED.last_activity_at, position = EXCLUDED.position, state = EXCLUDED.state
"""


class ReadModel:
    """Projection ``api_read_model``."""

    name: str = "api_read_model"
    tables: tuple[str, ...] = (
        "api_workspaces",
        "api_hosts",
        "api_templates",
        "api_template_versions",
        "api_shares",
        "usage_intervals",
    )

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        env = event.envelope
        if not isinstance(env, Envelope):
            return  # a type this build does not know: nothing to show for it
        data = env.data
        if isinstance(data, w.WorkspaceActivityRecorded):
            await conn.execute(
                """UPDATE api_workspaces SET last_activity_at = greatest(last_activity_at, $2), position = $3
                   WHERE workspace_id = $1""",
                data.workspace_id,
                env.occurred_at,
                event.position,
            )
        elif isinstance(data, (h.HostRegistered, h.HostLost, h.HostOrphanRemoved, h.HostReconciled)):
            await self._host(conn, env, data, event.position)
        elif isinstance(data, (t.TemplateCreated, t.TemplateUpdated, t.TemplateDeleted)):
            await self._template(conn, env, data, event.position)
        elif env.stream_type == "workspace":
            await self._workspace(conn, env, event.position)

    async def _workspace(self, conn: Conn, env: Envelope, position: int) -> None:
        row = await conn.fetchrow(
            "SELECT state, last_activity_at FROM api_workspaces WHERE workspace_id = $1::uuid", env.stream_id
        )
        before = _state.decode(row["state"]) if row else None
        state = evolve(before, env)
        if state is None:
            return
        activity = row["last_activity_at"] if row else None
        if isinstance(env.data, (w.WorkspaceCreated, *_BUMPS_ACTIVITY)):
            activity = env.occurred_at if activity is None else max(activity, env.occurred_at)
        await conn.execute(
            _UPSERT,
            state.workspace_id,
            state.org_id,
            state.name,
            state.owner_id,
            state.status,
            state.host_id,
            state.spec.image,
            state.spec.template,
            state.spec.resources.cpu,
            state.spec.resources.memory_mb,
            state.spec.resources.disk_gb,
            state.generation,
            state.version,
            state.container_id,
            state.last_command_id,
            state.last_operation,
            encode(state.last_error).decode() if state.last_error else None,
            state.created_at,
            state.updated_at,
            state.status_changed_at,
            activity,
            position,
            encode(state).decode(),
        )
        await self._shares(conn, env, state)
        await self._usage(conn, env, before, state)

    async def _shares(self, conn: Conn, env: Envelope, state: WorkspaceState) -> None:
        d = env.data
        if isinstance(d, w.WorkspacePortShared):
            await conn.execute(
                """INSERT INTO api_shares (share_id, workspace_id, org_id, owner_id, port, level, expires_at, created_by,
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (share_id) DO NOTHING""",
                d.share_id,
                state.workspace_id,
                state.org_id,
                state.owner_id,
                d.port,
                d.level,
                d.expires_at,
                str(env.actor),
                env.occurred_at,
            )
        elif isinstance(d, w.WorkspacePortShareExtended):
            await conn.execute("UPDATE api_shares SET expires_at = $2 WHERE share_id = $1", d.share_id, d.expires_at)
        elif isinstance(d, w.WorkspacePortUnshared):
            await conn.execute("DELETE FROM api_shares WHERE share_id = $1", d.share_id)
        elif state.status in ("deleting", "deleted"):
            await conn.execute("DELETE FROM api_shares WHERE workspace_id = $1", state.workspace_id)

    async def _usage(self, conn: Conn, env: Envelope, before: WorkspaceState | None, after: WorkspaceState) -> None:
        """Running intervals: open when the workspace becomes running, close when it stops
        being so (workspace-hours and CPU-hours are sums over them)."""
        was = before is not None and before.status == "running"
        now = after.status == "running"
        if now and not was:
            await conn.execute(
                """INSERT INTO usage_intervals (workspace_id, org_id, owner_id, cpu, started_at)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                after.workspace_id,
                after.org_id,
                after.owner_id,
                after.spec.resources.cpu,
                env.occurred_at,
            )
        elif was and not now:
            await conn.execute(
                "UPDATE usage_intervals SET ended_at = $2 WHERE workspace_id = $1 AND ended_at IS NULL",
                after.workspace_id,
                env.occurred_at,
            )

    async def _template(self, conn: Conn, env: Envelope, data: t.TemplateEvent, position: int) -> None:
        match data:
            case t.TemplateCreated() | t.TemplateUpdated():
                spec = encode(data.spec).decode()
                if isinstance(data, t.TemplateCreated):
                    await conn.execute(
                        """INSERT INTO api_templates (template_id, org_id, name, version, spec, created_at, updated_at, position)
                           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6, $7)""",
                        data.template_id,
                        env.org_id,
                        data.name,
                        data.version,
                        spec,
                        env.occurred_at,
                        position,
                    )
                else:
                    await conn.execute(
                        "UPDATE api_templates SET version = $2, spec = $3::jsonb, updated_at = $4, position = $5 WHERE template_id = $1",
                        data.template_id,
                        data.version,
                        spec,
                        env.occurred_at,
                        position,
                    )
                await conn.execute(
                    """INSERT INTO api_template_versions (template_id, version, spec, created_at) VALUES ($1, $2, $3::jsonb, $4)
                       ON CONFLICT DO NOTHING""",
                    data.template_id,
                    data.version,
                    spec,
                    env.occurred_at,
                )
            case t.TemplateDeleted():
                await conn.execute(
                    "UPDATE api_templates SET deleted = true, updated_at = $2, position = $3 WHERE template_id = $1",
                    data.template_id,
                    env.occurred_at,
                    position,
                )

    async def _host(self, conn: Conn, env: Envelope, data: h.HostEvent, position: int) -> None:
        match data:
            case h.HostRegistered():
                await conn.execute(
                    """INSERT INTO api_hosts (host_id, status, agent_version, runtime, capacity, address, registered_at,
                         position, pool_org)
                       VALUES ($1, 'registered', $2, $3, $4::jsonb, $5, $6, $7, $8)
                       ON CONFLICT (host_id) DO UPDATE SET status = 'registered', agent_version = EXCLUDED.agent_version,
                         runtime = EXCLUDED.runtime, capacity = EXCLUDED.capacity, address = EXCLUDED.address,
                         registered_at = EXCLUDED.registered_at, lost_at = NULL, position = EXCLUDED.position,
                         pool_org = EXCLUDED.pool_org""",
                    data.host_id,
                    data.agent_version,
                    data.runtime,
                    encode(data.capacity).decode(),
                    data.address,
                    env.occurred_at,
                    position,
                    data.pool_org,
                )
            case h.HostLost():
                await conn.execute(
                    "UPDATE api_hosts SET status = 'lost', lost_at = $2, position = $3 WHERE host_id = $1",
                    data.host_id,
                    env.occurred_at,
                    position,
                )
            case h.HostOrphanRemoved():
                await conn.execute(
                    "UPDATE api_hosts SET orphans_removed = orphans_removed + 1, position = $2 WHERE host_id = $1",
                    data.host_id,
                    position,
                )
            case h.HostReconciled():
                await conn.execute("UPDATE api_hosts SET position = $2 WHERE host_id = $1", data.host_id, position)


READ_MODEL = ReadModel()


async def apply_inline(conn: Conn, result: Executed) -> None:
    """``handler.execute`` hook: project the decision in its own transaction when possible."""
    await projection.apply_inline(conn, READ_MODEL, result.stored)
