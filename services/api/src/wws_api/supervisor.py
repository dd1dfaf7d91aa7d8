"""Level-triggered safety net: fail operations whose host never answered, and record
hosts whose heartbeat expired. Nothing stays "starting" forever."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from wws_api.hosts import HostRegistry
from wws_api.readmodel import apply_inline
from wws_events import SYSTEM_SUPERVISOR, DomainError, new_envelope
from wws_events import commands as c
from wws_events.host import HostLost
from wws_events.ids import command_id, event_id
from wws_service.clock import Clock
from wws_service.lifecycle import wait_any
from wws_store import eventstore, handler
from wws_store.errors import ConcurrencyError

log = structlog.get_logger("wws.supervisor")


class Supervisor:
    def __init__(self, pool: asyncpg.Pool, registry: HostRegistry, clock: Clock, *, org_id: str) -> None:
        self.pool = pool
        self.registry = registry
        self.clock = clock
        self.org_id = org_id
        self._started = clock.now()

    async def time_out_overdue(self) -> int:
        now = self.clock.now()
        rows = await self.pool.fetch(
            """SELECT w.workspace_id, w.last_command_id, w.last_operation, w.host_id, c.deadline, c.created_at
               FROM api_workspaces w JOIN wws_commands c ON c.command_id = w.last_command_id
               WHERE w.status IN ('scheduled', 'provisioning', 'starting', 'stopping', 'deleting') AND c.deadline < $1""",
            now,
        )
        done = 0
        for r in rows:
            waited = int((r["deadline"] - r["created_at"]).total_seconds())
            msg = f"host {r['host_id']} did not finish {r['last_operation']} within {waited}s"
            ctx = handler.CommandContext(
                command_id=command_id("timeout", r["last_command_id"]),
                actor=SYSTEM_SUPERVISOR,
                org_id=self.org_id,
                now=now,
                deadline=now,
                causation_id=r["last_command_id"],
            )
            try:
                await handler.execute(
                    self.pool,
                    r["workspace_id"],
                    c.TimeOutOperation(command_id=r["last_command_id"], message=msg),
                    ctx,
                    after_append=apply_inline,
                )
                done += 1
                log.warning("supervisor.timed_out", workspace_id=str(r["workspace_id"]), message=msg)
            except (DomainError, ConcurrencyError) as exc:
                log.info("supervisor.skip", workspace_id=str(r["workspace_id"]), reason=str(exc))
        return done

    async def mark_lost_hosts(self) -> int:
        now = self.clock.now()
        if now - self._started < self.registry.ttl:
            return 0  # give the registry one TTL to hear from every live host
        rows = await self.pool.fetch("SELECT host_id, registered_at FROM api_hosts WHERE status = 'registered'")
        lost = 0
        for r in rows:
            if self.registry.is_live(r["host_id"], now):
                continue
            beat = self.registry.get(r["host_id"])
            env = new_envelope(
                HostLost(host_id=r["host_id"], last_seen=beat.sent_at if beat else None),
                event_id=event_id(f"lost:{r['host_id']}:{r['registered_at'].isoformat()}", "host.lost"),
                stream_id=f"host-{r['host_id']}",
                occurred_at=now,
                org_id=self.org_id,
                actor=SYSTEM_SUPERVISOR,
                correlation_id=event_id(f"lost:{r['host_id']}", "host.lost"),
                host_id=r["host_id"],
                reason=f"no heartbeat for {int(self.registry.ttl.total_seconds())}s",
            )
            async with self.pool.acquire() as conn, conn.transaction():
                if await eventstore.append(conn, [env]):
                    lost += 1
                    log.warning("supervisor.host_lost", host_id=r["host_id"])
        return lost

    async def run(self, stop: asyncio.Event, *, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.time_out_overdue()
                await self.mark_lost_hosts()
            except Exception:
                log.exception("supervisor.error")
            await wait_any(stop, timeout=interval)
