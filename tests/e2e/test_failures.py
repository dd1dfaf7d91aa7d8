"""Failure handling on real Podman: duplicate order delivery, an agent killed in the middle
of a create, orphans found at start-up, the reaper stopping an idle workspace."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import asyncpg
import pytest

from tests.fixtures.podman import containers_of, volumes_of
from tests.fixtures.services import ProcessStack
from tests.timeouts import WAIT_LONG, eventually_sync
from wws_service import bus

pytestmark = pytest.mark.e2e


def _status(stack: ProcessStack, ws: str) -> str:
    with stack.client() as api:
        return str(api.get(f"/api/v1/workspaces/{ws}").json()["status"])


async def _republish(stack: ProcessStack, ws: str, copies: int) -> None:
    """Deliver the workspace's provision order again, under new Nats-Msg-Ids (as a broken
    relay or an operator replaying the stream would)."""
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT subject, body FROM wws_commands WHERE workspace_id = $1 ORDER BY position LIMIT 1", uuid.UUID(ws)
        )
    finally:
        await conn.close()
    async with bus.connect(stack.nats_url, name="replayer") as nc:
        js = nc.jetstream()
        await asyncio.gather(
            *(bus.publish(js, row["subject"], row["body"].encode(), msg_id=str(uuid.uuid4())) for _ in range(copies))
        )


def test_duplicate_order_delivery_makes_one_container(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.wait_ready()
    with stack.client() as api:
        ws = api.post("/api/v1/workspaces?wait=running", json={"name": "dup", "memory_mb": 256}).json()
    first = containers_of(stack.host_id)
    assert len(first) == 1
    asyncio.run(_republish(stack, ws["id"], copies=3))
    time.sleep(3)  # let the agent chew on the copies (nothing observable should change)
    after = containers_of(stack.host_id)
    assert [c["Id"] for c in after] == [c["Id"] for c in first]
    assert _status(stack, ws["id"]) == "running"

    async def count() -> tuple[int, int]:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            ok = await conn.fetchval(
                "SELECT count(*) FROM wws_events WHERE event_type = 'workspace.provision_succeeded'"
            )
            total = await conn.fetchval("SELECT count(*) FROM wws_events WHERE stream_id = $1", ws["id"])
            return int(ok), int(total)
        finally:
            await conn.close()

    ok, _ = asyncio.run(count())
    assert ok == 1  # re-executions produced the same event ids: recorded once


def test_agent_killed_mid_create_ends_running_or_failed_with_one_container(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    agent = stack.start("provisioner")
    stack.wait_ready()
    with stack.client() as api:
        ws = api.post("/api/v1/workspaces", json={"name": "crash", "memory_mb": 256}).json()
    # kill the agent as soon as its work is visible in Podman (the container exists)
    eventually_sync(
        lambda: containers_of(stack.host_id) or _status(stack, ws["id"]) != "scheduled",
        interval=0.01,
        what="work started",
    )
    agent.kill()
    assert len(containers_of(stack.host_id)) <= 1
    stack.start("provisioner")
    final = eventually_sync(
        lambda: (s := _status(stack, ws["id"])) in ("running", "failed") and s,
        timeout=WAIT_LONG,
        what="running or failed",
    )
    containers = containers_of(stack.host_id)
    assert len(containers) == 1
    if final == "running":
        assert containers[0]["State"] == "running"
    else:
        with stack.client() as api:
            assert api.get(f"/api/v1/workspaces/{ws['id']}").json()["last_error"]["message"]


def test_orphans_are_removed_at_start_and_live_workspaces_adopted(process_stack: ProcessStack, base_image: str) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.wait_ready()
    with stack.client() as api:
        ws = api.post("/api/v1/workspaces?wait=running", json={"name": "keep", "memory_mb": 256}).json()
    stack.procs["provisioner"].stop()
    stray = uuid.uuid4()
    labels = [
        "--label",
        "wws.managed=true",
        "--label",
        f"wws.host={stack.host_id}",
        "--label",
        f"wws.workspace={stray}",
    ]
    subprocess.run(["podman", "volume", "create", *labels, f"wws-home-{stray}"], check=True, capture_output=True)
    subprocess.run(["podman", "create", "--name", f"wws-{stray}", *labels, base_image], check=True, capture_output=True)
    stack.start("provisioner")
    eventually_sync(lambda: len(containers_of(stack.host_id)) == 1, timeout=WAIT_LONG, what="orphan removed")
    assert [c["Names"][0] for c in containers_of(stack.host_id)] == [f"wws-{ws['id']}"]
    assert [v["Name"] for v in volumes_of(stack.host_id)] == [f"wws-home-{ws['id']}"]
    assert _status(stack, ws["id"]) == "running"

    async def orphan_events() -> list[str]:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT data->>'name' AS name FROM wws_events WHERE event_type = 'host.orphan_removed'"
            )
            return sorted(r["name"] for r in rows)
        finally:
            await conn.close()

    assert eventually_sync(lambda: asyncio.run(orphan_events()) == sorted([f"wws-{stray}", f"wws-home-{stray}"]))


def test_reaper_stops_an_idle_workspace(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.start("reaper", WWS_REAPER_IDLE_TIMEOUT_S="3", WWS_REAPER_TICK_INTERVAL_S="0.5")
    stack.wait_ready()
    with stack.client() as api:
        ws = api.post("/api/v1/workspaces?wait=running", json={"name": "sleepy", "memory_mb": 256}).json()
    eventually_sync(lambda: _status(stack, ws["id"]) == "stopped", timeout=WAIT_LONG, what="reaped")
    assert containers_of(stack.host_id)[0]["State"] == "exited"
    with stack.client() as api:
        audit = api.get(f"/api/v1/audit?workspace={ws['id']}&type=workspace.stop_requested").json()
    # the audit projection runs in wws-audit; the log itself has the stop, by system:reaper
    del audit

    async def stop_actor() -> tuple[str, str]:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            row = await conn.fetchrow(
                "SELECT actor_type, actor_id FROM wws_events WHERE event_type = 'workspace.stop_requested'"
            )
            return row["actor_type"], row["actor_id"]
        finally:
            await conn.close()

    assert asyncio.run(stop_actor()) == ("system", "reaper")
