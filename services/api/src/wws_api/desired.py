"""Answers agents' ``wws.ctl.desired.<host_id>`` requests: what should exist on that host.
An agent removes only what is absent from this answer (and older than its grace period)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from wws_events import encode, subjects
from wws_events.host import DesiredStateReply, DesiredWorkspace

log = structlog.get_logger("wws.desired")


async def desired_for(pool: asyncpg.Pool, host_id: str) -> DesiredStateReply:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        position = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events")
        rows = await conn.fetch(
            """SELECT workspace_id, status, generation, version FROM api_workspaces
               WHERE host_id = $1 AND status <> 'deleted' ORDER BY workspace_id""",
            host_id,
        )
    return DesiredStateReply(
        host_id=host_id,
        workspaces=[
            DesiredWorkspace(
                workspace_id=r["workspace_id"], status=r["status"], generation=r["generation"], seq=r["version"]
            )
            for r in rows
        ],
        as_of_position=position,
    )


async def serve(pool: asyncpg.Pool, nc: NatsClient, stop: asyncio.Event) -> None:
    async def _answer(msg: Msg) -> None:
        host_id = msg.subject.rsplit(".", 1)[-1]
        try:
            await msg.respond(encode(await desired_for(pool, host_id)))
        except Exception:
            log.exception("desired.failed", host_id=host_id)

    sub = await nc.subscribe(f"{subjects.DESIRED_PREFIX}.*", queue="wws-api", cb=_answer)
    try:
        await stop.wait()
    finally:
        await sub.unsubscribe()
