"""Reaper projection ``reaper_workspaces``: status and the last sign of work per workspace."""

from __future__ import annotations

import msgspec

from wws_events import Envelope, WorkspaceState, encode, evolve
from wws_events import workspace as w
from wws_store.db import Conn
from wws_store.eventstore import StoredEvent

_state = msgspec.json.Decoder(WorkspaceState)

# Facts that mean "someone is using this workspace now" (issue #4 adds proxy/terminal
# traffic and in-workspace CPU work).
_LIFECYCLE = (
    w.WorkspaceProvisionSucceeded,
    w.WorkspaceStartSucceeded,
    w.WorkspaceRestartSucceeded,
    w.WorkspaceRebuildSucceeded,
)


class ReaperProjection:
    name: str = "reaper"
    tables: tuple[str, ...] = ("reaper_workspaces",)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        env = event.envelope
        if not isinstance(env, Envelope):
            return
        data = env.data
        if isinstance(data, w.WorkspaceActivityRecorded):
            await conn.execute(
                """UPDATE reaper_workspaces SET last_activity_at = $2, last_signal = $3, position = $4
                   WHERE workspace_id = $1 AND last_activity_at < $2""",
                data.workspace_id,
                env.occurred_at,
                f"activity:{data.source}",
                event.position,
            )
            return
        if env.stream_type != "workspace":
            return
        if isinstance(data, w.WorkspaceIdleWarning):
            await conn.execute(
                "UPDATE reaper_workspaces SET warned_for = $2, position = $3 WHERE workspace_id = $1::uuid",
                env.stream_id,
                data.idle_since,
                event.position,
            )
            return
        row = await conn.fetchrow(
            "SELECT state, last_activity_at, last_signal, running_since FROM reaper_workspaces WHERE workspace_id = $1::uuid",
            env.stream_id,
        )
        before = _state.decode(row["state"]) if row else None
        state = evolve(before, env)
        if state is None:
            return
        last, signal = (row["last_activity_at"], row["last_signal"]) if row else (env.occurred_at, env.type)
        since = row["running_since"] if row else None
        if isinstance(data, _LIFECYCLE) and state.status == "running":
            last, signal = max(last, env.occurred_at), env.type
        if state.status == "running" and (before is None or before.status != "running"):
            since = env.occurred_at
        elif state.status != "running":
            since = None
        await conn.execute(
            """INSERT INTO reaper_workspaces (workspace_id, org_id, status, last_activity_at, last_signal, running_since, position, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
               ON CONFLICT (workspace_id) DO UPDATE SET status = EXCLUDED.status, last_activity_at = EXCLUDED.last_activity_at,
                 last_signal = EXCLUDED.last_signal, running_since = EXCLUDED.running_since, position = EXCLUDED.position,
                 state = EXCLUDED.state""",
            state.workspace_id,
            state.org_id,
            state.status,
            last,
            signal,
            since,
            event.position,
            encode(state).decode(),
        )
