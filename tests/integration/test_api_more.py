"""More of the API on real servers: audit filters, the projections CLI, long operations
kept alive with in-progress acks, and random bad input that must never be a 500."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import eventually
from wws_api.cli import main as api_main
from wws_audit.projection import AuditProjection
from wws_provisioner.runtime.fake import FakeRuntime
from wws_store import projection

pytestmark = pytest.mark.integration


async def _live(api: InProcessApi) -> bool:
    return any(h["status"] == "live" for h in (await api.client.get("/api/v1/hosts")).json()["items"])


async def test_audit_endpoint_filters(api: InProcessApi) -> None:
    c = api.client
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        a = (await c.post("/api/v1/workspaces?wait=running", json={"name": "aud-a"})).json()["id"]
        b = (await c.post("/api/v1/workspaces?wait=running", json={"name": "aud-b"})).json()["id"]
        await c.post(f"/api/v1/workspaces/{a}/stop?wait=stopped")
    await projection.catch_up(api.services.pool, AuditProjection())

    async def page(**params: Any) -> dict[str, Any]:
        r = await c.get("/api/v1/audit", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    only_a = (await page(workspace=a))["items"]
    assert {e["workspace_id"] for e in only_a} == {a}
    assert [e["type"] for e in only_a][:2] == ["workspace.created", "workspace.scheduled"]
    stops = (await page(type="workspace.stop_requested"))["items"]
    assert [(e["workspace_id"], e["actor_id"], e["actor_type"]) for e in stops] == [(a, "admin", "user")]
    assert stops[0]["source_ip"] == "127.0.0.1"
    agent = (await page(actor="service:agent:h1", type="workspace.*"))["items"]
    assert agent and all(e["actor_id"] == "agent:h1" for e in agent)
    assert {e["workspace_id"] for e in agent} == {a, b}
    future = (await page(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()))["items"]
    assert future == []
    first = await page(limit=2)
    rest = await page(cursor=first["next_cursor"], limit=1000)
    # the organization's events, every one, in log order (the instance's user events are not the org's)
    mine = await api.services.pool.fetch("SELECT global_position FROM wws_events WHERE org_id = 'default' ORDER BY 1")
    assert [e["position"] for e in first["items"] + rest["items"]] == [r[0] for r in mine]
    assert first["projection_position"] == first["head_position"]


async def test_projections_cli_rebuild_and_status(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await api.client.post("/api/v1/workspaces", json={"name": "cli"})
    monkeypatch.setenv("WWS_DATABASE_URL", api.settings.database_url)
    monkeypatch.setenv("WWS_API_ADMIN_TOKEN", "x")
    before = await api.services.pool.fetch("SELECT * FROM api_workspaces")
    assert await asyncio.to_thread(api_main, ["projections", "rebuild"]) == 0
    assert "rebuilt from position 0" in capsys.readouterr().out
    assert [tuple(r) for r in await api.services.pool.fetch("SELECT * FROM api_workspaces")] == [
        tuple(r) for r in before
    ]
    assert await asyncio.to_thread(api_main, ["projections", "status"]) == 0
    assert "api_read_model" in capsys.readouterr().out


async def test_long_operation_is_kept_alive_not_redelivered(api: InProcessApi) -> None:
    """An order that takes several ack_wait periods is carried out once (in-progress acks)."""
    runtime = FakeRuntime()
    runtime.block = asyncio.Event()
    async with in_process_host(api.settings.nats_url, "h1", runtime=runtime, ack_wait=1.0):
        await eventually(lambda: _live(api))
        ws = (await api.client.post("/api/v1/workspaces", json={"name": "slow"})).json()["id"]
        await eventually(lambda: _async(bool(runtime.calls)))
        await asyncio.sleep(3.5)  # three and a half ack_wait periods
        runtime.block.set()
        r = await api.client.get(f"/api/v1/workspaces/{ws}")
        await eventually(lambda: _status(api, ws, "running"))
        assert [c for c in runtime.calls if c[0] == "ensure_running"] == [("ensure_running", runtime.calls[0][1])]
        del r


async def _status(api: InProcessApi, ws: str, status: str) -> bool:
    return bool((await api.client.get(f"/api/v1/workspaces/{ws}")).json()["status"] == status)


async def _async(value: bool) -> bool:
    return value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON | st.from_regex(r"[a-z][a-z0-9-]{0,70}", fullmatch=True),
        "cpu": JSON,
        "memory_mb": JSON,
        "disk_gb": JSON,
        "image": JSON,
        "template": JSON,
        "host": JSON,
    },
)


async def test_random_bad_input_is_never_a_500(api: InProcessApi) -> None:
    """Random bodies, keys and ids get 4xx problems (or a 202), never a 500. Hypothesis
    drives a synchronous client in a thread while the server runs in this event loop."""
    headers = dict(api.client.headers)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=st.one_of(FIELDS, JSON), key=st.none() | st.text(max_size=300), ident=st.text(max_size=40))
    def probe(client: httpx.Client, body: Any, key: str | None, ident: str) -> None:
        extra = {"Idempotency-Key": key} if key and key.isascii() and key.isprintable() and key.strip() == key else {}
        payload = json.dumps(body).encode()
        r = client.post("/api/v1/workspaces", content=payload, headers={**extra, "content-type": "application/json"})
        assert r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
        safe = quote(ident, safe="") or "x"
        for method, path in (("GET", f"/api/v1/workspaces/{safe}"), ("POST", f"/api/v1/workspaces/{safe}/rebuild")):
            r = client.request(method, path, content=payload)
            assert r.status_code < 500, (method, path, r.text)

    def run() -> None:
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
            probe(client)

    await asyncio.to_thread(run)
