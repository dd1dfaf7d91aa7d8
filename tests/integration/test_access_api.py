"""The API side of reaching a workspace, without a gateway: share links (lifecycle, events,
levels, expiry on time), the SSE event feed, usage totals from the log, and subdomain
routing. What a request that got through meets is the proxy's answer for a workspace that
does not run (409): enough to tell "let through" from "refused" (401/404)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.fixtures.people import Person, organization, person
from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import WAIT_MEDIUM, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def api_overrides() -> dict[str, Any]:
    return {"wildcard_domain": "ws.test", "share_max_ttl_s": 3600}


def _client(api: InProcessApi, who: Person | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers=who.headers("acme") if who else {}, timeout=30)


async def _events(api: InProcessApi, ws: str, kind: str) -> list[dict[str, Any]]:
    rows = await api.services.pool.fetch(
        "SELECT body FROM wws_events WHERE stream_id = $1 AND event_type = $2 ORDER BY global_position", ws, kind
    )
    return [json.loads(r["body"])["data"] for r in rows]


async def test_share_links_levels_lifecycle_and_expiry(api: InProcessApi) -> None:
    owner = await person(api, "sh-owner")
    member = await person(api, "sh-member")
    foreign = await person(api, "sh-foreign")
    await organization(api, "acme", owner, m=(member, "member"))
    await organization(api, "globex", foreign)
    async with _client(api, owner) as c:
        ws = (await c.post("/api/v1/workspaces", json={"name": "shared"})).json()["id"]
        base = f"/api/v1/workspaces/{ws}/shares"
        assert (await c.post(base, json={"port": 0})).status_code == 422  # the domain refuses it
        assert (await c.post(base, json={"port": 3000, "expires_in_s": 7200})).status_code == 422  # over the max
        links = {}
        for level in ("owner", "org", "public"):
            r = await c.post(base, json={"port": 3000, "level": level, "expires_in_s": 600})
            assert r.status_code == 201, r.text
            links[level] = r.json()
        assert links["public"]["url"].endswith(f"/api/v1/shares/{links['public']['id']}/")
        assert {s["level"] for s in (await c.get(base)).json()} == {"owner", "org", "public"}

    # who gets through (409: through, the workspace does not run) and who does not
    expect = {
        ("public", None): 409,
        ("public", "foreign"): 409,
        ("org", None): 401,
        ("org", "foreign"): 404,
        ("org", "member"): 409,
        ("owner", "member"): 404,
        ("owner", "owner"): 409,
    }
    people = {"owner": owner, "member": member, "foreign": foreign}
    for (level, who), status in expect.items():
        path = f"/api/v1/shares/{links[level]['id']}/page"
        async with _client(api, people[who] if who else None) as c:
            r = await c.get(path)
        assert r.status_code == status, (level, who, r.text)

    async with _client(api, owner) as c:
        share = links["org"]["id"]
        r = await c.patch(f"/api/v1/workspaces/{ws}/shares/{share}", json={"expires_in_s": 1200})
        assert r.status_code == 200 and r.json()["expires_at"] > links["org"]["expires_at"]
        assert (await c.delete(f"/api/v1/workspaces/{ws}/shares/{share}")).status_code == 204
        assert (await c.get(f"/api/v1/shares/{share}/")).status_code == 404
        assert (await c.delete(f"/api/v1/workspaces/{ws}/shares/{share}")).status_code == 404
        # a short share stops working on time, and the sweeper records that it expired
        short = (await c.post(f"/api/v1/workspaces/{ws}/shares", json={"port": 8000, "expires_in_s": 1})).json()
        await asyncio.sleep(1.2)
        assert (await c.get(f"/api/v1/shares/{short['id']}/")).status_code == 404
        assert short["id"] not in {s["id"] for s in (await c.get(f"/api/v1/workspaces/{ws}/shares")).json()}

    async def expired() -> bool:
        return any(e["share_id"] == short["id"] for e in await _events(api, ws, "workspace.port_unshared"))

    await eventually(expired, timeout=WAIT_MEDIUM, what="expiry recorded")
    kinds = {
        k: len(await _events(api, ws, k))
        for k in ("workspace.port_shared", "workspace.port_share_extended", "workspace.port_unshared")
    }
    assert kinds == {"workspace.port_shared": 4, "workspace.port_share_extended": 1, "workspace.port_unshared": 2}
    reasons = [e["reason"] for e in await _events(api, ws, "workspace.port_unshared")]
    assert reasons == ["revoked", "expired"]


async def test_the_event_feed_streams_and_resumes(api: InProcessApi) -> None:
    async with in_process_host(api.settings.nats_url, "h1"):
        r = await api.client.post("/api/v1/workspaces?wait=running&wait_timeout=15", json={"name": "fed"})
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
        seen: list[dict[str, Any]] = []
        last_id = ""

        async def read(headers: dict[str, str], until: str) -> None:
            nonlocal last_id
            async with api.client.stream("GET", f"/api/v1/workspaces/{ws}/events", headers=headers) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    if line.startswith("id:"):
                        last_id = line[3:].strip()
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:]))
                        if seen[-1]["type"] == until:
                            return

        await asyncio.wait_for(read({}, "workspace.provision_succeeded"), 10)
        assert seen[0]["type"] == "workspace.created"
        count = len(seen)
        assert (await api.client.post(f"/api/v1/workspaces/{ws}/stop")).status_code == 202
        await asyncio.wait_for(read({"Last-Event-ID": last_id}, "workspace.stop_succeeded"), 10)
        resumed = [e["type"] for e in seen[count:]]
        assert resumed[0] == "workspace.stop_requested" and "workspace.created" not in resumed

        # usage totals from the log: the time it ran, times its CPUs
        r = await api.client.get("/api/v1/orgs/default/usage")
        totals = r.json()["totals"]
        assert 0 < totals["workspace_hours"] < 0.1 and totals["cpu_hours"] > 0


async def test_subdomain_routing_reaches_the_same_route(api: InProcessApi) -> None:
    owner = await person(api, "sd-owner")
    other = await person(api, "sd-other")
    await organization(api, "acme", owner)
    async with _client(api, owner) as c:
        ws = (await c.post("/api/v1/workspaces", json={"name": "sub"})).json()["id"]
        r = await c.get("/some/page", headers={"Host": f"ide--{ws}.ws.test"})
        assert r.status_code == 409 and "not running" in r.json()["detail"], r.text
        r = await c.get("/", headers={"Host": f"3000--{ws}.ws.test"})
        assert r.status_code == 409
    async with _client(api, other) as c:
        assert (await c.get("/", headers={"Host": f"ide--{ws}.ws.test"})).status_code == 404
    assert (await api.client.get("/api/v1/health", headers={"Host": "api.ws.test"})).status_code == 200
