"""Templates over HTTP on real Postgres: versioned, evented, and what a workspace records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.services import InProcessApi, api_settings, in_process_host, serve_api
from tests.timeouts import eventually

pytestmark = pytest.mark.integration


async def _live(api: InProcessApi) -> bool:
    return any(h["status"] == "live" for h in (await api.client.get("/api/v1/hosts")).json()["items"])


async def test_template_crud_versions_and_events(api: InProcessApi) -> None:
    c = api.client
    r = await c.post("/api/v1/templates", json={"name": "py", "languages": ["python"], "bootstrap": "echo 1", "cpu": 1})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["version"] == 1 and t["image"] == "localhost/wws-dev:python" and t["ide"] is True
    assert (await c.post("/api/v1/templates", json={"name": "py"})).status_code == 409
    r = await c.patch(f"/api/v1/templates/{t['id']}", json={"bootstrap": "echo 2", "languages": ["python", "go"]})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["image"] == "localhost/wws-dev:go-python"
    same = await c.patch("/api/v1/templates/py", json={"bootstrap": "echo 2"})
    assert same.json()["version"] == 2  # no change, no new version
    versions = (await c.get("/api/v1/templates/py/versions")).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["spec"]["bootstrap"] == "echo 1"
    assert [x["name"] for x in (await c.get("/api/v1/templates")).json()["items"]] == ["py"]
    assert (await c.delete("/api/v1/templates/py")).status_code == 204
    assert (await c.get("/api/v1/templates/py")).status_code == 404
    assert (await c.post("/api/v1/templates", json={"name": "py"})).status_code == 201  # the name is free again
    types = [
        r["event_type"]
        for r in await api.services.pool.fetch(
            "SELECT event_type FROM wws_events WHERE stream_type = 'template' ORDER BY global_position"
        )
    ]
    assert types == ["template.created", "template.updated", "template.deleted", "template.created"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "x", "languages": ["cobol"]}, "#/languages/0"),
        ({"name": "x", "image": "localhost/a:1", "languages": ["go"]}, "#/image"),
        ({"name": "x", "idle_timeout_s": 5}, "#/idle_timeout_s"),
        ({"name": "x", "env": {"1BAD": "v"}}, "#/env"),
        ({"name": "x", "ports": [70000]}, "#/ports/0"),
        ({"name": "x", "network": "none", "ide": True}, "#/network"),
        ({"name": "Bad Name"}, "#/name"),
        ({"language": ["go"], "name": "x"}, "#/language"),
    ],
)
async def test_bad_template_input_is_422_naming_the_field(
    api: InProcessApi, body: dict[str, Any], pointer: str
) -> None:
    r = await api.client.post("/api/v1/templates", json=body)
    assert r.status_code == 422, r.text
    assert any(e["pointer"].startswith(pointer) for e in r.json()["errors"]), r.json()["errors"]


async def test_workspace_records_its_template_version_and_rebuild_moves_it(api: InProcessApi) -> None:
    c = api.client
    await c.post(
        "/api/v1/templates",
        json={
            "name": "base",
            "image": "localhost/wws-base:bookworm",
            "bootstrap": "v1",
            "network": "egress",
            "ide": False,
        },
    )
    async with in_process_host(api.settings.nats_url, "h1"):
        await eventually(lambda: _live(api))
        r = await c.post("/api/v1/workspaces?wait=running", json={"name": "w", "template": "base", "bootstrap": "mine"})
        assert r.status_code == 200, r.text
        ws = r.json()
        assert ws["template"] == "base" and ws["template_version"] == 1
        await c.patch("/api/v1/templates/base", json={"bootstrap": "v2", "env": {"A": "1"}})
        r = await c.post(f"/api/v1/workspaces/{ws['id']}/rebuild?wait=running", json={"template_version": "latest"})
        assert r.status_code == 200, r.text
        assert r.json()["template_version"] == 2 and r.json()["generation"] == 2
        spec = (
            await api.services.pool.fetchrow(
                "SELECT state->'spec' AS s FROM api_workspaces WHERE workspace_id = $1::uuid", ws["id"]
            )
        )["s"]
        assert '"v2"' in spec and '"mine"' in spec and '"A"' in spec
        r = await c.post(f"/api/v1/workspaces/{ws['id']}/rebuild", json={"template_version": 9})
        assert r.status_code == 422


async def test_repository_token_is_stored_encrypted_and_never_shown(api: InProcessApi) -> None:
    token = "ghp_secret_value_123456"
    r = await api.client.post(
        "/api/v1/workspaces",
        json={"name": "repo", "repository": {"url": "https://git.example.com/a/b.git", "token": token}},
    )
    assert r.status_code == 202, r.text
    assert token not in r.text and r.json()["repository"]["has_credential"] is True
    row = await api.services.pool.fetchrow("SELECT * FROM wws_secrets")
    assert row["scope"] == f"workspace:{r.json()['id']}" and token.encode() not in bytes(row["ciphertext"])
    bodies = " ".join(x["body"] for x in await api.services.pool.fetch("SELECT body FROM wws_events"))
    assert token not in bodies and '"credential":"git-token"' in bodies
    assert token not in (await api.client.get(f"/api/v1/workspaces/{r.json()['id']}")).text


async def test_token_without_secret_keys_is_refused(pg_dsn: str, nats_server: Any) -> None:
    async with serve_api(api_settings(pg_dsn, nats_server.url, secret_keys=None)) as api:
        r = await api.client.post(
            "/api/v1/workspaces", json={"name": "r", "repository": {"url": "https://h/x.git", "token": "t"}}
        )
        assert r.status_code == 422 and "WWS_API_SECRET_KEYS" in r.text
        assert await api.services.pool.fetchval("SELECT count(*) FROM wws_events WHERE stream_type = 'workspace'") == 0
