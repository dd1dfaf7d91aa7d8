"""The HTTP API on real NATS + Postgres, with the real agent loop on an in-memory runtime.
Errors are RFC 9457 problems naming the field; nothing bad in gives a 500."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import WAIT_MEDIUM, eventually
from wws_provisioner.errors import ImageNotFound
from wws_provisioner.runtime.fake import FakeRuntime

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


async def _get(api: InProcessApi, ws: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/workspaces/{ws}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_create_wait_running_then_lifecycle(api: InProcessApi) -> None:
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api, "h1"), what="host live")
        r = await api.client.post(
            "/api/v1/workspaces?wait=running&wait_timeout=15", json={"name": "alpha", "memory_mb": 512}
        )
        assert r.status_code == 200, r.text
        ws = r.json()
        assert ws["status"] == "running" and ws["host_id"] == "h1" and ws["generation"] == 1
        assert r.headers["location"] == f"/api/v1/workspaces/{ws['id']}"
        for action, target in (
            ("stop", "stopped"),
            ("start", "running"),
            ("restart", "running"),
            ("rebuild", "running"),
        ):
            r = await api.client.post(f"/api/v1/workspaces/{ws['id']}/{action}?wait={target}")
            assert r.status_code == 200, (action, r.text)
            assert r.json()["status"] == target
        assert (await _get(api, ws["id"]))["generation"] == 2
        r = await api.client.delete(f"/api/v1/workspaces/{ws['id']}?wait=deleted")
        assert r.status_code == 200 and r.json()["status"] == "deleted"
        listed = (await api.client.get("/api/v1/workspaces")).json()["items"]
        assert ws["id"] not in [w["id"] for w in listed]
        listed = (await api.client.get("/api/v1/workspaces?include_deleted=true")).json()["items"]
        assert ws["id"] in [w["id"] for w in listed]


async def _live(api: InProcessApi, host: str) -> bool:
    hosts = (await api.client.get("/api/v1/hosts")).json()["items"]
    return any(h["id"] == host and h["status"] == "live" for h in hosts)


async def test_without_a_host_the_workspace_waits_pending_then_is_placed(api: InProcessApi) -> None:
    r = await api.client.post("/api/v1/workspaces", json={"name": "later"})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    ws = r.json()["id"]
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _status_is(api, ws, "running"), timeout=WAIT_MEDIUM, what="placed and running")


async def _status_is(api: InProcessApi, ws: str, status: str) -> bool:
    return (await _get(api, ws))["status"] == status


async def test_failure_while_waiting_is_a_502_problem_with_the_reason(api: InProcessApi) -> None:
    runtime = FakeRuntime()
    runtime.fail_next = ImageNotFound("localhost/wws-base:bookworm", "a transient failure")
    async with in_process_host(api.settings.nats_url, "h1", runtime=runtime):
        await eventually(lambda: _live(api, "h1"))
        r = await api.client.post("/api/v1/workspaces?wait=running", json={"name": "broken"})
        assert r.status_code == 502, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["type"] == "/api/v1/problems/operation-failed"
        assert body["workspace"]["status"] == "failed"
        assert body["workspace"]["last_error"]["code"] == "image_not_found"
        ws = body["workspace"]["id"]
        # a failed workspace can be started again
        r = await api.client.post(f"/api/v1/workspaces/{ws}/start?wait=running")
        assert r.status_code == 200, r.text


async def test_invalid_transition_is_409_with_the_current_state(api: InProcessApi) -> None:
    r = await api.client.post("/api/v1/workspaces", json={"name": "pend"})
    ws = r.json()["id"]
    r = await api.client.post(f"/api/v1/workspaces/{ws}/stop")
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["workspace"]["status"] == "pending"
    assert "cannot stop a workspace that is pending" in body["detail"]


async def test_concurrent_conflicting_requests_one_wins_the_other_409(api: InProcessApi) -> None:
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api, "h1"))
        ws = (await api.client.post("/api/v1/workspaces?wait=running", json={"name": "race"})).json()["id"]
        results = await asyncio.gather(*(api.client.post(f"/api/v1/workspaces/{ws}/stop") for _ in range(4)))
        codes = sorted(r.status_code for r in results)
        assert codes == [202, 409, 409, 409], [r.text for r in results]


async def test_idempotency_key_gives_the_same_answer_and_one_workspace(api: InProcessApi) -> None:
    body = {"name": "idem", "cpu": 0.5}
    headers = {"Idempotency-Key": "create-idem-1"}
    first = await api.client.post("/api/v1/workspaces", json=body, headers=headers)
    second = await api.client.post("/api/v1/workspaces", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    items = (await api.client.get("/api/v1/workspaces")).json()["items"]
    assert [w["name"] for w in items].count("idem") == 1
    other = await api.client.post("/api/v1/workspaces", json={**body, "cpu": 2}, headers=headers)
    assert other.status_code == 422 and other.json()["type"] == "/api/v1/problems/idempotency-key-reused"


async def test_concurrent_requests_with_one_key_make_one_workspace(api: InProcessApi) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    results = await asyncio.gather(
        *(api.client.post("/api/v1/workspaces", json={"name": "twins"}, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in results} == {202}
    assert len({r.json()["id"] for r in results}) == 1
    assert await api.services.pool.fetchval("SELECT count(*) FROM wws_workspace_names WHERE name = 'twins'") == 1


@pytest.mark.parametrize(
    ("body", "pointer", "fragment"),
    [
        ({"name": "ok", "colour": "red"}, "#/colour", "unknown field"),
        ({"name": "ok", "cpu": -1}, "#/cpu", "> 0"),
        ({"name": "ok", "cpu": 999}, "#/cpu", "at most"),
        ({"name": "ok", "memory_mb": 10**9}, "#/memory_mb", "between"),
        ({"name": "ok", "memory_mb": 16}, "#/memory_mb", "between"),
        ({"name": "ok", "disk_gb": 0}, "#/disk_gb", ">= 1"),
        ({"name": "ok", "disk_gb": 100000}, "#/disk_gb", "at most"),
        ({"name": "Bad_Name"}, "#/name", "starting with a letter"),
        ({"name": "x" * 80}, "#/name", ""),
        ({}, "#/name", "missing required field"),
        ({"name": "ok", "cpu": "two"}, "#/cpu", "Expected"),
        ({"name": "ok", "template": "nope"}, "#/template", "unknown template"),
        ({"name": "ok", "template": "base", "image": "localhost/x:1"}, "#/image", "not both"),
        ({"name": "ok", "host": "never-seen"}, "#/host", "has ever registered"),
        ({"name": "ok", "image": "bad image;rm -rf"}, "#/image", "image reference"),
    ],
)
async def test_bad_create_input_is_422_naming_the_field(
    api: InProcessApi, body: dict[str, Any], pointer: str, fragment: str
) -> None:
    before = await api.services.pool.fetchval("SELECT count(*) FROM wws_events")
    r = await api.client.post("/api/v1/workspaces", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["type"] == "/api/v1/problems/validation-error" and problem["status"] == 422
    assert pointer in [e["pointer"] for e in problem["errors"]], problem
    assert fragment in problem["detail"], problem
    assert await api.services.pool.fetchval("SELECT count(*) FROM wws_events") == before  # nothing written


async def test_malformed_json_is_400(api: InProcessApi) -> None:
    r = await api.client.post("/api/v1/workspaces", content=b'{"name": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), r.text


@pytest.mark.parametrize("ident", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "%20"])
@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("POST", "/start"), ("POST", "/stop"), ("DELETE", ""), ("POST", "/activity")]
)
async def test_unknown_ids_are_404_problems(api: InProcessApi, ident: str, method: str, suffix: str) -> None:
    r = await api.client.request(method, f"/api/v1/workspaces/{ident}{suffix}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_missing_or_wrong_token_is_401(api: InProcessApi) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = await api.client.get("/api/v1/workspaces", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM), r.text
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_health_and_openapi_need_no_token(api: InProcessApi) -> None:
    r = await api.client.get("/api/v1/health", headers={"Authorization": ""})
    assert r.status_code == 200
    health = r.json()
    assert health["nats"]["ok"] and health["postgres"]["ok"] and health["version"]
    spec = (await api.client.get("/api/v1/openapi.json", headers={"Authorization": ""})).json()
    for path in (
        "/api/v1/workspaces",
        "/api/v1/workspaces/{workspace_id}/rebuild",
        "/api/v1/hosts",
        "/api/v1/audit",
        "/api/v1/health",
    ):
        assert path in spec["paths"], sorted(spec["paths"])


async def test_wrong_method_and_unknown_route_are_problems(api: InProcessApi) -> None:
    r = await api.client.put("/api/v1/workspaces")
    assert r.status_code == 405 and r.headers["content-type"].startswith(PROBLEM)
    r = await api.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


async def test_events_record_who_acted_and_from_where(api: InProcessApi) -> None:
    await api.client.post("/api/v1/workspaces", json={"name": "who"})
    row = await api.services.pool.fetchrow(
        "SELECT actor_type, actor_id, source_ip FROM wws_events WHERE event_type = 'workspace.created'"
    )
    assert row["actor_type"] == "user" and row["actor_id"] == "admin" and row["source_ip"] is not None
