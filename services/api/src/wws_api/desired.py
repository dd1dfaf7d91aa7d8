"""Answers agents' control requests:

* ``wws.ctl.desired.<host>``: what should exist on that host (an agent removes only what is
  absent from this answer, and older than its grace period);
* ``wws.ctl.secrets.<host>``: the secret values a workspace placed on that host needs at
  start (its repository token, its owner's personal secrets). Only for workspaces on the
  asking host; the values travel in the reply only, never in an event, a log line or the
  outbox (NATS should run with TLS when agents are on other machines).
"""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from wws_api.accounts import Accounts
from wws_events import encode, subjects
from wws_events.host import DesiredStateReply, DesiredWorkspace, SecretsReply, SecretsRequest
from wws_store import secrets
from wws_store.secrets import Keyring

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


async def secrets_for(
    pool: asyncpg.Pool, keyring: Keyring | None, host_id: str, request: SecretsRequest, accounts: Accounts | None = None
) -> SecretsReply:
    row = await pool.fetchrow(
        """SELECT host_id, owner_id, state->'spec'->'repository'->>'credential' AS credential
           FROM api_workspaces WHERE workspace_id = $1""",
        request.workspace_id,
    )
    if row is None or row["host_id"] != host_id:
        return SecretsReply(workspace_id=request.workspace_id, error="no such workspace on this host")
    values: dict[str, str] = {}
    if row["credential"] and keyring is not None:
        value = await secrets.get(pool, keyring, f"workspace:{request.workspace_id}", row["credential"])
        if value is not None:
            values[row["credential"]] = value
    personal = await accounts.injected(pool, row["owner_id"]) if accounts is not None else []
    return SecretsReply(workspace_id=request.workspace_id, values=values, user_secrets=personal)


async def serve(
    pool: asyncpg.Pool, nc: NatsClient, keyring: Keyring | None, accounts: Accounts, stop: asyncio.Event
) -> None:
    async def _desired(msg: Msg) -> None:
        host_id = msg.subject.rsplit(".", 1)[-1]
        try:
            await msg.respond(encode(await desired_for(pool, host_id)))
        except Exception:
            log.exception("desired.failed", host_id=host_id)  # the agent retries; the subscription lives on

    async def _secrets(msg: Msg) -> None:
        host_id = msg.subject.rsplit(".", 1)[-1]
        try:
            request = msgspec.json.decode(msg.data, type=SecretsRequest)
            await msg.respond(encode(await secrets_for(pool, keyring, host_id, request, accounts)))
        except Exception as exc:  # noqa: BLE001 - reply with the error's kind only: its text may hold data
            log.warning("secrets.failed", host_id=host_id, error=type(exc).__name__)
            await msg.respond(encode(SecretsReply(workspace_id=None, error=type(exc).__name__)))

    subs = [
        await nc.subscribe(f"{subjects.DESIRED_PREFIX}.*", queue="wws-api", cb=_desired),
        await nc.subscribe(f"{subjects.SECRETS_PREFIX}.*", queue="wws-api", cb=_secrets),
    ]
    try:
        await stop.wait()
    finally:
        for sub in subs:
            await sub.unsubscribe()
