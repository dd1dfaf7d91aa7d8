"""The secret store on real Postgres: AES-256-GCM envelope encryption, key rotation by
re-wrapping, and tamper detection."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from wws_store import secrets
from wws_store.secrets import Keyring, SecretError

pytestmark = pytest.mark.integration


async def test_seal_open_rotate_and_tamper(pg_pool: asyncpg.Pool) -> None:
    old = Keyring.parse(Keyring.generate_spec("old"))
    async with pg_pool.acquire() as conn:
        await secrets.put(conn, old, "user:alice", "openai", "sk-one")
        await secrets.put(conn, old, "user:bob", "openai", "sk-two")
    assert await secrets.get(pg_pool, old, "user:alice", "openai") == "sk-one"
    # rotation: a new active key; the old one still decrypts until everything is re-wrapped
    both = Keyring(keys={"new": Keyring.parse(Keyring.generate_spec("new")).keys["new"], **old.keys}, active="new")
    assert await secrets.get(pg_pool, both, "user:bob", "openai") == "sk-two"
    assert await secrets.rewrap(pg_pool, both) == 2
    assert {r["key_id"] for r in await pg_pool.fetch("SELECT key_id FROM wws_secrets")} == {"new"}
    only_new = Keyring(keys={"new": both.keys["new"]}, active="new")
    assert await secrets.get(pg_pool, only_new, "user:alice", "openai") == "sk-one"
    with pytest.raises(SecretError, match="not configured"):
        await secrets.get(pg_pool, old, "user:alice", "openai")
    # a ciphertext moved to another row does not decrypt (bound to scope and name)
    await pg_pool.execute(
        "UPDATE wws_secrets SET ciphertext = (SELECT ciphertext FROM wws_secrets WHERE scope = 'user:alice') WHERE scope = 'user:bob'"
    )
    with pytest.raises(SecretError, match="does not decrypt"):
        await secrets.get(pg_pool, only_new, "user:bob", "openai")


def test_keyring_parsing_errors() -> None:
    with pytest.raises(SecretError, match="32 bytes"):
        Keyring.parse("k:" + "QUFB")
    with pytest.raises(SecretError, match="base64"):
        Keyring.parse("k:not base64!")
    with pytest.raises(SecretError, match="no secret keys"):
        Keyring.parse(" , ")


def test_rotation_with_the_cli(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's path: generate a key, put it first, ``wws-api secrets rewrap``, drop the old one."""
    import asyncio

    from wws_api import cli

    old = Keyring.generate_spec("old")

    async def seed() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await secrets.put(conn, Keyring.parse(old), "workspace:x", "git-token", "ghp-secret")
        finally:
            await conn.close()

    asyncio.run(seed())
    assert cli.main(["secrets", "generate-key"]) == 0
    new = capsys.readouterr().out.strip()
    assert Keyring.parse(new).active.startswith("k")
    monkeypatch.setenv("WWS_DATABASE_URL", pg_dsn)
    monkeypatch.setenv("WWS_API_ADMIN_TOKEN", "t")
    monkeypatch.setenv("WWS_API_SECRET_KEYS", f"{new},{old}")
    assert cli.main(["secrets", "rewrap"]) == 0
    assert "re-wrapped 1 secret(s)" in capsys.readouterr().out

    async def read() -> str | None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            return await secrets.get(conn, Keyring.parse(new), "workspace:x", "git-token")
        finally:
            await conn.close()

    assert asyncio.run(read()) == "ghp-secret"
    monkeypatch.setenv("WWS_API_SECRET_KEYS", new.split(":")[0] + ":not-a-key")
    assert cli.main(["secrets", "rewrap"]) == 1
    assert "not base64" in capsys.readouterr().err


async def test_rotation_keeps_every_api_secret_readable(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Personal secrets and repository tokens stored through the API survive a key rotation
    done the documented way: new key first, rewrap, old key gone."""
    from tests.fixtures.people import organization, person
    from tests.fixtures.services import SECRET_KEYS
    from wws_api import cli
    from wws_api.accounts import Accounts

    sue = await person(api, "rot")
    await organization(api, "acme", sue)
    headers = sue.headers("acme")
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as c:
        for n in range(3):
            r = await c.put(f"/api/v1/users/me/secrets/k{n}", json={"value": f"value-{n}", "target": f"K{n}"})
            assert r.status_code == 204
        r = await c.post(
            "/api/v1/workspaces",
            json={"name": "rot", "repository": {"url": "https://git.example/r.git", "token": "tok-1"}},
        )
        assert r.status_code == 202
        ws = r.json()["id"]
    new = Keyring.generate_spec("k2")
    monkeypatch.setenv("WWS_DATABASE_URL", api.settings.database_url)
    monkeypatch.setenv("WWS_API_ADMIN_TOKEN", "t")
    monkeypatch.setenv("WWS_API_SECRET_KEYS", f"{new},{SECRET_KEYS}")
    assert await asyncio.to_thread(cli.main, ["secrets", "rewrap"]) == 0
    only_new = Keyring.parse(new)
    assert {r["key_id"] for r in await api.services.pool.fetch("SELECT key_id FROM wws_secrets")} == {"k2"}
    accounts = Accounts(api.services.identity, only_new)
    injected = await accounts.injected(api.services.pool, sue.user_id)
    assert [(s.name, s.target, s.value) for s in injected] == [(f"k{n}", f"K{n}", f"value-{n}") for n in range(3)]
    assert await secrets.get(api.services.pool, only_new, f"workspace:{ws}", "git-token") == "tok-1"
