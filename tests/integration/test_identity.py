"""Identity and tenancy through the API on real Postgres + NATS: tokens (scopes, expiry,
revocation, stored hashed), invitations (expiry, addressed to one person), sharing,
quotas under concurrency, rate limits, secrets never echoed, tenancy isolation."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest

from tests.fixtures.people import Person, organization, person, problem
from tests.fixtures.services import InProcessApi
from wws_api.credentials import parse_api_token

pytestmark = pytest.mark.integration


def client(api: InProcessApi, who: Person | None, org: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers=who.headers(org) if who else {}, timeout=60)


@pytest.fixture
def api_overrides() -> dict[str, Any]:
    return {"rate_lifecycle_per_min": 6.0, "rate_lifecycle_burst": 5}


async def test_tokens_scopes_expiry_revocation_and_hashing(api: InProcessApi) -> None:
    alice = await person(api, "alice")
    await organization(api, "acme", alice)
    async with client(api, alice, "acme") as c:
        r = await c.post(
            "/api/v1/users/me/tokens", json={"name": "ci", "scopes": ["workspaces:read"], "expires_in_s": 2}
        )
        assert r.status_code == 201, r.text
        made = r.json()
        token, token_id = made["token"], made["id"]
        assert token.startswith("wws_") and made["scopes"] == ["workspaces:read"]
        listed = (await c.get("/api/v1/users/me/tokens")).json()
        assert token not in str(listed) and {t["id"]: t["status"] for t in listed}[token_id] == "active"
        # a scope the token lacks, and no minting of broader tokens with it
        ro = {"Authorization": f"Bearer {token}", "WWS-Org": "acme"}
        assert (await c.get("/api/v1/workspaces", headers=ro)).status_code == 200
        r = await c.post("/api/v1/workspaces", json={"name": "nope"}, headers=ro)
        assert r.status_code == 403 and "scope" in r.json()["detail"]
        r = await c.post("/api/v1/users/me/tokens", json={"name": "x"}, headers=ro)
        assert r.status_code == 403  # minting needs user:write
        await asyncio.sleep(2.2)
        r = await c.get("/api/v1/workspaces", headers=ro)
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        # revocation takes effect at once
        r = await c.post("/api/v1/users/me/tokens", json={"name": "second"})
        second = {"Authorization": f"Bearer {r.json()['token']}"}
        assert (await c.get("/api/v1/users/me", headers=second)).status_code == 200
        assert (await c.delete(f"/api/v1/users/me/tokens/{r.json()['id']}")).status_code == 204
        assert (await c.get("/api/v1/users/me", headers=second)).status_code == 401
        # invalid lifetimes and scopes are refused with the field named
        r = await c.post("/api/v1/users/me/tokens", json={"name": "x", "scopes": ["root"]})
        assert r.status_code == 422 and "scopes" in r.text
        r = await c.post("/api/v1/users/me/tokens", json={"name": "x", "expires_in_s": 10**9})
        assert r.status_code == 422 and "expires_in_s" in r.text
    # only the hash of the secret part is stored; the token is in no event
    parsed = parse_api_token(token)
    assert parsed is not None and parsed[0] == token_id
    secret = parsed[1]  # (the secret may itself contain "_")
    row = await api.services.pool.fetchrow("SELECT hash FROM auth_token_hashes WHERE token_id = $1", token_id)
    assert bytes(row["hash"]) == hashlib.sha256(secret.encode()).digest()
    bodies = " ".join(r["body"] for r in await api.services.pool.fetch("SELECT body FROM wws_events"))
    assert secret not in bodies and '"user.token_created"' in bodies and '"user.token_revoked"' in bodies


async def test_invitations_expire_and_belong_to_their_invitee(api: InProcessApi) -> None:
    owner = await person(api, "olga")
    bob = await person(api, "bob", email="bob@example.com")
    eve = await person(api, "eve", email="eve@example.com")
    octo = await person(api, "octo", github="octocat")
    await organization(api, "acme", owner)
    async with client(api, owner, "acme") as c:
        team = (await c.post("/api/v1/orgs/acme/teams", json={"name": "platform"})).json()["id"]
        short = (
            await c.post("/api/v1/orgs/acme/invitations", json={"email": "bob@example.com", "expires_in_s": 1})
        ).json()
        r = await c.post(
            "/api/v1/orgs/acme/invitations",
            json={"email": "Bob@Example.com", "role": "template_admin", "teams": ["platform"]},
        )
        assert r.status_code == 201, r.text
        good = r.json()
        gh = (await c.post("/api/v1/orgs/acme/invitations", json={"github_login": "octocat", "role": "auditor"})).json()
        r = await c.post("/api/v1/orgs/acme/invitations", json={"role": "member"})
        assert r.status_code == 422
    await asyncio.sleep(1.2)
    async with client(api, bob) as c:
        mine = {i["id"]: i["status"] for i in (await c.get("/api/v1/users/me/invitations")).json()}
        assert mine == {good["id"]: "pending"}  # the expired one is no longer offered
        r = await c.post(f"/api/v1/invitations/{short['id']}/accept")
        assert r.status_code == 410 and problem(r) == "/api/v1/problems/invitation-unusable"
    async with client(api, eve) as c:
        r = await c.post(f"/api/v1/invitations/{good['id']}/accept")
        assert r.status_code == 404  # not addressed to eve: it does not exist for her
    async with client(api, bob) as c:
        assert (await c.post(f"/api/v1/invitations/{good['id']}/accept")).status_code == 204
        assert (await c.post(f"/api/v1/invitations/{good['id']}/accept")).status_code == 410
        me = (await c.get("/api/v1/users/me")).json()
        assert [(o["name"], o["role"], o["teams"]) for o in me["orgs"]] == [("acme", "template_admin", ["platform"])]
    async with client(api, octo) as c:
        assert (await c.post(f"/api/v1/invitations/{gh['id']}/decline")).status_code == 204
        assert (await c.get("/api/v1/orgs/acme")).status_code == 404
    types = [
        r["event_type"]
        for r in await api.services.pool.fetch(
            "SELECT event_type FROM wws_events WHERE stream_id = 'org-acme' ORDER BY 1"
        )
    ]
    assert (
        types.count("org.invitation_created") == 3
        and "org.invitation_accepted" in types
        and "org.invitation_declined" in types
    )
    assert team


async def test_sharing_with_a_team_and_revoking(api: InProcessApi) -> None:
    owner, ann, ben, cat = [await person(api, n) for n in ("own", "ann", "ben", "cat")]
    await organization(api, "acme", owner, a=(ann, "member"), b=(ben, "member"), c=(cat, "member"))
    async with client(api, owner, "acme") as c:
        await c.post("/api/v1/orgs/acme/teams", json={"name": "reviewers"})
        assert (await c.put(f"/api/v1/orgs/acme/teams/reviewers/members/{ben.user_id}")).status_code == 204
    async with client(api, ann, "acme") as c:
        ws = (await c.post("/api/v1/workspaces", json={"name": "shared"})).json()["id"]
        r = await c.put(f"/api/v1/workspaces/{ws}/access/team:reviewers", json={"level": "use"})
        assert r.status_code == 200 and r.json()[0]["level"] == "use"
        r = await c.put(f"/api/v1/workspaces/{ws}/access/user:nobody", json={"level": "use"})
        assert r.status_code == 422
    async with client(api, ben, "acme") as c:
        assert (await c.get(f"/api/v1/workspaces/{ws}")).status_code == 200
        assert [w["id"] for w in (await c.get("/api/v1/workspaces")).json()["items"]] == [ws]
        r = await c.delete(f"/api/v1/workspaces/{ws}")
        assert r.status_code == 403  # use is not manage
    async with client(api, cat, "acme") as c:
        assert (await c.get(f"/api/v1/workspaces/{ws}")).status_code == 404
        assert (await c.get("/api/v1/workspaces")).json()["items"] == []
    async with client(api, ann, "acme") as c:
        assert (await c.delete(f"/api/v1/workspaces/{ws}/access/team:reviewers")).status_code == 200
    async with client(api, ben, "acme") as c:
        assert (await c.get(f"/api/v1/workspaces/{ws}")).status_code == 404
    events = [
        r["event_type"]
        for r in await api.services.pool.fetch("SELECT event_type FROM wws_events WHERE stream_id = $1", ws)
    ]
    assert "workspace.access_granted" in events and "workspace.access_revoked" in events


async def test_parallel_creates_never_exceed_the_quota(api: InProcessApi) -> None:
    owner = await person(api, "quota-owner")
    users = [await person(api, f"q{n}") for n in range(4)]
    await organization(api, "acme", owner, **{f"m{n}": (u, "member") for n, u in enumerate(users)})
    async with client(api, owner, "acme") as c:
        assert (await c.put("/api/v1/orgs/acme/quotas/org", json={"max_workspaces": 5, "cpu": 100})).status_code == 204
        assert (await c.put("/api/v1/orgs/acme/quotas/default-user", json={"max_workspaces": 2})).status_code == 204
        quotas = (await c.get("/api/v1/orgs/acme/quotas")).json()
        assert quotas["org"] == {"max_workspaces": 5, "cpu": 100} and quotas["default_user"] == {"max_workspaces": 2}

    async def create(u: Person, n: int) -> int:
        async with client(api, u, "acme") as c:
            r = await c.post("/api/v1/workspaces", json={"name": f"{u.login}-{n}"})
            if r.status_code == 403:
                assert problem(r) == "/api/v1/problems/quota-exceeded", r.text
            return r.status_code

    # 4 users x 4 attempts at once: at most 2 each and 5 in all, whatever the interleaving
    results = await asyncio.gather(*(create(u, n) for u in users for n in range(4)))
    assert results.count(202) == 5 and results.count(403) == 11, results
    counts = {
        r["owner_id"]: r["n"]
        for r in await api.services.pool.fetch(
            "SELECT owner_id, count(*) AS n FROM api_workspaces WHERE org_id = 'acme' GROUP BY owner_id"
        )
    }
    assert sum(counts.values()) == 5 and max(counts.values()) <= 2
    async with client(api, owner, "acme") as c:
        usage = (await c.get("/api/v1/orgs/acme/usage")).json()
        assert usage["org"]["usage"]["workspaces"] == 5 and usage["org"]["limits"]["max_workspaces"] == 5
    async with client(api, users[0], "acme") as c:
        mine = (await c.get("/api/v1/users/me/usage")).json()["acme"]
        assert mine["usage"]["workspaces"] == counts.get(users[0].user_id, 0) and mine["limits"] == {
            "max_workspaces": 2
        }


async def test_per_workspace_maximum_and_lowered_limits(api: InProcessApi) -> None:
    owner = await person(api, "lim")
    await organization(api, "acme", owner)
    async with client(api, owner, "acme") as c:
        await c.put(f"/api/v1/orgs/acme/quotas/users/{owner.user_id}", json={"workspace_memory_mb": 1024})
        r = await c.post("/api/v1/workspaces", json={"name": "big", "memory_mb": 4096})
        assert r.status_code == 403 and r.json()["dimension"] == "memory_mb per workspace"
        assert (await c.post("/api/v1/workspaces", json={"name": "small", "memory_mb": 1024})).status_code == 202


async def test_lifecycle_rate_limit_answers_429_with_retry_after(api: InProcessApi) -> None:
    rick = await person(api, "rick")
    await organization(api, "acme", rick)
    async with client(api, rick, "acme") as c:
        codes = [(await c.post("/api/v1/workspaces", json={"name": f"r{n}"})).status_code for n in range(5)]
        assert codes == [202] * 5
        r = await c.post("/api/v1/workspaces", json={"name": "r5"})
        assert r.status_code == 429 and problem(r) == "/api/v1/problems/rate-limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 10
        assert (await c.get("/api/v1/workspaces")).status_code == 200  # reads are not limited
    assert await api.services.pool.fetchval("SELECT count(*) FROM api_workspaces WHERE name = 'r5'") == 0


async def test_tenancy_unknown_and_foreign_look_the_same(api: InProcessApi) -> None:
    a, b = await person(api, "tenant-a"), await person(api, "tenant-b")
    await organization(api, "acme", a)
    await organization(api, "globex", b)
    async with client(api, b, "globex") as c:
        theirs = (await c.post("/api/v1/workspaces", json={"name": "secret-project"})).json()["id"]
        await c.post("/api/v1/templates", json={"name": "gx", "image": "localhost/wws-base:bookworm", "ide": False})
    async with client(api, a, "acme") as c:
        unknown = "00000000-0000-4000-8000-000000000000"
        r1, r2 = await c.get(f"/api/v1/workspaces/{theirs}"), await c.get(f"/api/v1/workspaces/{unknown}")
        assert r1.status_code == r2.status_code == 404
        assert (await c.post(f"/api/v1/workspaces/{theirs}/stop")).status_code == 404
        assert (await c.get("/api/v1/templates/gx")).status_code == 404
        assert (await c.get("/api/v1/orgs/globex")).status_code == 404
        assert (await c.get("/api/v1/workspaces", headers={"WWS-Org": "globex"})).status_code == 404
        assert theirs not in (await c.get("/api/v1/workspaces")).text
    denied = await api.services.pool.fetch(
        "SELECT body FROM wws_events WHERE stream_id = $1 AND event_type = 'access.denied'", f"access-{a.user_id}"
    )
    assert len(denied) >= 3 and all('"outcome":"denied"' in r["body"] for r in denied)


async def test_secrets_are_never_returned_and_changes_are_events(api: InProcessApi) -> None:
    sue = await person(api, "sue")
    await organization(api, "acme", sue)
    value = "sk-test-" + "x" * 40
    async with client(api, sue, "acme") as c:
        r = await c.put(
            "/api/v1/users/me/secrets/openai", json={"value": value, "inject": "env", "target": "OPENAI_API_KEY"}
        )
        assert r.status_code == 204, r.text
        listed = (await c.get("/api/v1/users/me/secrets")).text
        assert value not in listed and "OPENAI_API_KEY" in listed
        bad = await c.put(
            "/api/v1/users/me/secrets/k", json={"value": "v", "inject": "file", "target": "../etc/passwd"}
        )
        assert bad.status_code == 422 and "target" in bad.text
        assert (await c.delete("/api/v1/users/me/secrets/openai")).status_code == 204
        assert (await c.delete("/api/v1/users/me/secrets/openai")).status_code == 404
    bodies = " ".join(r["body"] for r in await api.services.pool.fetch("SELECT body FROM wws_events"))
    assert value not in bodies and '"user.secret_set"' in bodies and '"user.secret_deleted"' in bodies
    assert (
        await api.services.pool.fetchval("SELECT count(*) FROM wws_secrets WHERE scope = $1", f"user:{sue.user_id}")
        == 0
    )


async def test_org_rules_through_the_api(api: InProcessApi) -> None:
    olga, adam = await person(api, "olga2"), await person(api, "adam")
    await organization(api, "acme", olga, a=(adam, "admin"))
    async with client(api, adam, "acme") as c:
        r = await c.patch(f"/api/v1/orgs/acme/members/{olga.user_id}", json={"role": "member"})
        assert r.status_code == 403 and "owner" in r.json()["detail"]
        r = await c.post("/api/v1/orgs/acme/invitations", json={"email": "x@y.z", "role": "owner"})
        assert r.status_code == 403
    async with client(api, olga, "acme") as c:
        r = await c.delete(f"/api/v1/orgs/acme/members/{olga.user_id}")
        assert r.status_code == 409 and "owner" in r.json()["detail"]
        assert (await c.patch(f"/api/v1/orgs/acme/members/{adam.user_id}", json={"role": "auditor"})).status_code == 204
    # changes made over HTTP name the actor and the address they came from
    body = await api.services.pool.fetchval(
        "SELECT body FROM wws_events WHERE stream_id = 'org-acme' AND event_type = 'org.member_role_changed'"
    )
    assert f'"id":"{olga.user_id}"' in body and '"ip":"127.0.0.1"' in body


async def test_host_pools_belong_to_one_organization(api: InProcessApi) -> None:
    """A host with a pool serves only its organization; shared hosts serve everyone."""
    from tests.fixtures.services import in_process_host
    from tests.timeouts import eventually

    a, g = await person(api, "pool-a"), await person(api, "pool-g")
    await organization(api, "acme", a)
    await organization(api, "globex", g)
    async with (
        in_process_host(api.settings.nats_url, "gx-only", pool_org="globex"),
        client(api, a, "acme") as c,
        client(api, g, "globex") as cg,
    ):

        async def seen(cl: httpx.AsyncClient) -> set[str]:
            return {h["id"] for h in (await cl.get("/api/v1/hosts")).json()["items"] if h["status"] == "live"}

        await eventually(lambda: _has(seen(cg), "gx-only"))
        assert "gx-only" not in await seen(c)
        r = await c.post("/api/v1/workspaces", json={"name": "acme-ws"})
        assert r.json()["status"] == "pending"  # no host of acme's pool: it waits
        r = await c.post("/api/v1/workspaces", json={"name": "pinned", "host": "gx-only"})
        assert r.status_code == 422 and "host" in r.text
        r = await cg.post("/api/v1/workspaces?wait=running", json={"name": "globex-ws"})
        assert r.status_code == 200 and r.json()["host_id"] == "gx-only"
        async with in_process_host(api.settings.nats_url, "shared"):
            acme_ws = (await c.get("/api/v1/workspaces")).json()["items"][0]["id"]
            await eventually(lambda: _status_is(c, acme_ws, "running"), timeout=30)
            assert (await c.get(f"/api/v1/workspaces/{acme_ws}")).json()["host_id"] == "shared"


async def _has(coro: Any, item: str) -> bool:
    return item in await coro


async def _status_is(c: httpx.AsyncClient, ws: str, status: str) -> bool:
    return bool((await c.get(f"/api/v1/workspaces/{ws}")).json()["status"] == status)
