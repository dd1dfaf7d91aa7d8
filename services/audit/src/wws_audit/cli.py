"""``wws-audit``: run the audit projection and checkpoint signer, verify the chain,
replay a workspace's history, export the log for offline checks."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import datetime
from pathlib import Path

import msgspec
import structlog

from wws_audit import __version__, signing
from wws_audit.projection import AuditProjection
from wws_audit.replay import replay
from wws_audit.settings import AuditSettings
from wws_audit.verify import verify
from wws_service import logging as wlog
from wws_service import tracing
from wws_service.clock import SystemClock
from wws_service.lifecycle import run_until_signalled
from wws_service.settings import ConfigError, load_settings
from wws_store import db, projection

log = structlog.get_logger("wws.audit")


async def serve(settings: AuditSettings, stop: asyncio.Event) -> None:
    async with db.pool(settings.database_url, max_size=4) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        log.info("audit.started", version=__version__, signing=bool(settings.signing_key_file))
        async with asyncio.TaskGroup() as tg:
            tg.create_task(projection.run(pool, AuditProjection(), stop, dsn=settings.database_url))
            if settings.signing_key_file:
                key = signing.load_private(settings.signing_key_file)
                tg.create_task(signing.run(pool, key, SystemClock(), settings.checkpoint_interval_s, stop))


async def _verify(dsn: str, public_key: str | None, as_json: bool) -> int:
    key = signing.load_public(public_key) if public_key else None
    async with db.pool(dsn, max_size=1) as pool:
        report = await verify(pool, public_key=key)
    if as_json:
        print(msgspec.json.encode(report).decode())
    elif report.ok:
        signed = f", {report.checkpoints_checked} signed checkpoint(s) valid" if key else ""
        print(
            f"OK: {report.checked} events, chain intact up to position {report.head_position} (head {report.head_hash[:16]}…){signed}"
        )
    else:
        assert report.first_broken is not None
        print(f"BROKEN at position {report.first_broken.position}: {report.first_broken.problem}")
        print(f"  events before it verified: {report.checked} (last good position {report.head_position})")
    return 0 if report.ok else 1


async def _replay(dsn: str, workspace: str, at: str | None) -> int:
    try:
        ws = uuid.UUID(workspace)
        when = datetime.fromisoformat(at) if at else None
    except ValueError as exc:
        print(f"wws-audit: {exc}", file=sys.stderr)
        return 2
    async with db.pool(dsn, max_size=1) as pool:
        result = await replay(pool, ws, when)
    if not result.changes:
        print(f"no events for workspace {ws}")
        return 1
    for ch in result.changes:
        print(
            f"{ch.position:>8}  {ch.occurred_at:%Y-%m-%d %H:%M:%S}  {ch.actor:<28} {ch.summary}  -> {ch.status_after}"
        )
    if result.state:
        s = result.state
        print(
            f"\nstate{' at ' + at if at else ''}: {s.status}, host {s.host_id}, generation {s.generation}, image {s.spec.image}"
        )
    return 0


async def _export(dsn: str, after: int) -> int:
    async with db.pool(dsn, max_size=1) as pool:
        last = after
        while rows := await pool.fetch(
            "SELECT global_position, prev_hash, hash, body FROM wws_events WHERE global_position > $1 ORDER BY global_position LIMIT 1000",
            last,
        ):
            for r in rows:
                line = {
                    "position": r["global_position"],
                    "prev_hash": bytes(r["prev_hash"]).hex(),
                    "hash": bytes(r["hash"]).hex(),
                    "body": r["body"],
                }
                sys.stdout.write(msgspec.json.encode(line).decode() + "\n")
            last = rows[-1]["global_position"]
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wws-audit", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the audit projection and the checkpoint signer")
    v = sub.add_parser("verify", help="walk the hash chain; exit 1 and name the first broken position")
    v.add_argument("--public-key", help="Ed25519 public (or private) key PEM to check signed checkpoints")
    v.add_argument("--json", action="store_true", help="machine-readable report")
    r = sub.add_parser("replay", help="a workspace's history and its state at a time")
    r.add_argument("workspace_id")
    r.add_argument("--at", help="ISO-8601 time (default: now)")
    e = sub.add_parser("export", help="JSON lines of (position, prev_hash, hash, body) for offline verification")
    e.add_argument("--after", type=int, default=0)
    k = sub.add_parser("keygen", help="write a new Ed25519 signing key (PEM)")
    k.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "keygen":
        if args.path.exists():
            print(f"wws-audit: {args.path} exists; not overwriting", file=sys.stderr)
            return 2
        key = signing.generate(args.path)
        print(f"wrote {args.path} ({signing.key_id(key.public_key())})")
        return 0
    try:
        settings = load_settings(AuditSettings, service="audit")
    except ConfigError as exc:
        print(f"wws-audit: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "verify":
        return asyncio.run(
            _verify(settings.database_url, args.public_key or settings.signing_key_file or None, args.json)
        )
    if args.cmd == "replay":
        return asyncio.run(_replay(settings.database_url, args.workspace_id, args.at))
    if args.cmd == "export":
        return asyncio.run(_export(settings.database_url, args.after))
    wlog.configure(service="audit", level=settings.log_level, fmt=settings.log_format)
    tracing.configure(
        service="audit", exporter=settings.otel_exporter, endpoint=settings.otel_endpoint, version=__version__
    )
    asyncio.run(run_until_signalled(lambda stop: serve(settings, stop)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
