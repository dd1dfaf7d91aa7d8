"""Tamper evidence: ``wws-audit verify`` walks the chain and names the first broken
position; signed checkpoints catch a rewrite of the whole tail."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from tests.integration.helpers import create, ctx
from wws_audit import signing
from wws_audit.cli import main as audit_main
from wws_audit.projection import AuditProjection
from wws_audit.verify import verify
from wws_events import commands as c
from wws_service.clock import SystemClock
from wws_store import eventstore, handler, projection

pytestmark = pytest.mark.integration


async def _history(pool: asyncpg.Pool, n: int = 4) -> None:
    for i in range(n):
        ws, cmd = create(name=f"a{i}")
        await handler.execute(pool, ws, cmd, ctx())
        await handler.execute(pool, ws, c.DeleteWorkspace(), ctx())


async def _as_superuser(pool: asyncpg.Pool, sql: str, *args: object) -> None:
    """What an attacker with the database's superuser can do: bypass the append-only trigger."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql, *args)


async def test_intact_chain_verifies(pg_pool: asyncpg.Pool) -> None:
    await _history(pg_pool)
    report = await verify(pg_pool)
    assert report.ok and report.checked == await eventstore.head_position(pg_pool)


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        (
            "UPDATE wws_events SET body = replace(body, '\"tester\"', '\"mallory\"') WHERE global_position = 5",
            "hash does not match",
        ),
        ("UPDATE wws_events SET actor_id = 'mallory' WHERE global_position = 5", "column actor_id"),
        (
            "UPDATE wws_events SET occurred_at = occurred_at - interval '1 day' WHERE global_position = 5",
            "column occurred_at",
        ),
        ("DELETE FROM wws_events WHERE global_position = 5", "prev_hash does not match"),
    ],
)
async def test_tampering_with_one_event_is_found_at_its_position(pg_pool: asyncpg.Pool, sql: str, expect: str) -> None:
    await _history(pg_pool)
    await _as_superuser(pg_pool, sql)
    report = await verify(pg_pool)
    assert not report.ok and report.first_broken is not None
    expected_position = 6 if sql.startswith("DELETE") else 5
    assert report.first_broken.position == expected_position
    assert expect in report.first_broken.problem
    assert report.checked == 4


async def test_rewriting_the_tail_is_caught_by_a_signed_checkpoint(pg_pool: asyncpg.Pool, tmp_path: Path) -> None:
    """Even recomputing every later hash does not help: the signed head no longer matches."""
    await _history(pg_pool, 2)
    key = signing.generate(tmp_path / "k.pem")
    signed = await signing.sign_head(pg_pool, key, SystemClock())
    assert signed == await eventstore.head_position(pg_pool)
    assert (await verify(pg_pool, public_key=key.public_key())).ok
    # rewrite event 2's body and recompute the whole chain from there, as a careful attacker would
    rows = await pg_pool.fetch("SELECT global_position, prev_hash, body FROM wws_events ORDER BY global_position")
    prev = bytes(rows[0]["prev_hash"])
    for r in rows:
        pos = r["global_position"]
        body = r["body"].replace('"tester"', '"mallory"') if pos == 2 else r["body"]
        digest = eventstore.chain_hash(prev, body.encode())
        await _as_superuser(
            pg_pool,
            "UPDATE wws_events SET body = $2, prev_hash = $3, hash = $4, actor_id = "
            "CASE WHEN $1 = 2 THEN 'mallory' ELSE actor_id END WHERE global_position = $1",
            pos,
            body,
            prev,
            digest,
        )
        prev = digest
    assert (await verify(pg_pool)).checked == len(rows)  # every link is consistent again...
    report = await verify(pg_pool, public_key=key.public_key())
    assert not report.ok and report.first_broken is not None
    assert "signed checkpoint" in report.first_broken.problem


async def test_forged_checkpoint_signature_is_refused(pg_pool: asyncpg.Pool, tmp_path: Path) -> None:
    await _history(pg_pool, 1)
    key = signing.generate(tmp_path / "k.pem")
    other = signing.generate(tmp_path / "other.pem")
    await signing.sign_head(pg_pool, other, SystemClock())
    report = await verify(pg_pool, public_key=key.public_key())
    assert not report.ok and "signature" in report.first_broken.problem


async def test_cli_verify_exit_codes(
    pg_dsn: str, pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _history(pg_pool, 2)
    monkeypatch.setenv("WWS_DATABASE_URL", pg_dsn)
    assert await _run(["verify"]) == 0
    assert "OK: 6 events" in capsys.readouterr().out
    await _as_superuser(pg_pool, "UPDATE wws_events SET body = body || ' ' WHERE global_position = 3")
    assert await _run(["verify"]) == 1
    assert "BROKEN at position 3" in capsys.readouterr().out


async def _run(argv: list[str]) -> int:
    return await asyncio.to_thread(audit_main, argv)


async def test_audit_projection_and_api_filters(pg_pool: asyncpg.Pool) -> None:
    await _history(pg_pool, 2)
    await projection.catch_up(pg_pool, AuditProjection())
    rows = await pg_pool.fetch("SELECT event_type, actor_id, summary FROM audit_log ORDER BY position")
    assert [r["event_type"] for r in rows][:3] == [
        "workspace.created",
        "workspace.scheduled",
        "workspace.delete_requested",
    ]
    assert rows[0]["summary"].startswith("created workspace 'a0'")
