"""``wws-api``: serve the API (with its workers), apply migrations, manage projections."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import uvicorn

from wws_api.app import create_app
from wws_api.gatewaykeys import GatewaySigner
from wws_api.readmodel import ReadModel
from wws_api.settings import ApiSettings
from wws_service import logging as wlog
from wws_service import tracing
from wws_service.settings import ConfigError, load_settings
from wws_store import db, projection, secrets
from wws_store.secrets import Keyring, SecretError


async def _migrate(dsn: str) -> None:
    async with db.pool(dsn, max_size=1) as pool, pool.acquire() as conn:
        applied = await db.migrate(conn)
    print("applied: " + (", ".join(applied) or "nothing (up to date)"))


async def _rebuild(dsn: str) -> None:
    async with db.pool(dsn, max_size=2) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        n = await projection.rebuild(pool, ReadModel())
    print(f"api_read_model rebuilt from position 0: {n} events applied")


async def _status(dsn: str) -> None:
    async with db.pool(dsn, max_size=1) as pool:
        head = await pool.fetchval("SELECT coalesce(max(global_position), 0) FROM wws_events")
        for row in await pool.fetch("SELECT name, position, updated_at FROM wws_checkpoints ORDER BY name"):
            print(
                f"{row['name']:<20} position {row['position']:>8}  lag {head - row['position']:>6}  updated {row['updated_at']:%Y-%m-%d %H:%M:%S}"
            )
        print(f"{'(head)':<20} position {head:>8}")


async def _rewrap(dsn: str, keyring: Keyring) -> None:
    async with db.pool(dsn, max_size=1) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        n = await secrets.rewrap(pool, keyring)
    print(f"re-wrapped {n} secret(s) under key {keyring.active!r}")


def _secrets(action: str, settings: ApiSettings) -> int:
    """Key rotation: put a new key first in WWS_API_SECRET_KEYS (keep the old ones), restart
    the API, run ``rewrap``, then drop the old keys. Values are never re-encrypted or shown."""
    if settings.secret_keys is None:
        print("wws-api: WWS_API_SECRET_KEYS is not set", file=sys.stderr)
        return 2
    try:
        keyring = Keyring.parse(settings.secret_keys.reveal())
        asyncio.run(_rewrap(settings.database_url, keyring))
    except SecretError as exc:
        print(f"wws-api: {exc}", file=sys.stderr)
        return 1
    return 0


async def _login_link(settings: ApiSettings, user: str) -> str:
    from wws_api.accounts import Accounts
    from wws_api.identity import IDENTITY, Identity
    from wws_service.clock import SystemClock

    async with db.pool(settings.database_url, max_size=2) as pool:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        identity = Identity(pool, SystemClock())
        await projection.catch_up(pool, IDENTITY)
        await identity.bootstrap()
        if await identity.user(user) is None:
            raise SystemExit(f"wws-api: no user {user!r}")
        secret = await Accounts(identity, None).one_time_link(user)
    base = (settings.public_url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")
    return f"{base}/api/v1/auth/bootstrap?token={secret}"


async def _gateway_keys(dsn: str, action: str) -> list[str]:
    async with db.pool(dsn, max_size=1) as pool:
        if action == "rotate":
            kid = await GatewaySigner.rotate(pool)
            return [
                f"new signing key {kid}: every API replica signs with it within a minute; retire the old ones after"
            ]
        if action == "retire":
            return [f"retired {kid}" for kid in await GatewaySigner.retire(pool)] or ["nothing to retire"]
        return [f"{kid}  {created}" for kid, created in await GatewaySigner.listing(pool)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wws-api", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the HTTP API and its background workers")
    sub.add_parser("migrate", help="apply pending database migrations")
    proj = sub.add_parser("projections", help="inspect or rebuild projections")
    proj.add_argument("action", choices=["rebuild", "status"])
    link = sub.add_parser("login-link", help="print a one-time browser login link (15 minutes) for a user")
    link.add_argument("--user", default="admin", help="user id (default: the first owner)")
    sec = sub.add_parser("secrets", help="secret-key rotation: generate-key, rewrap")
    sec.add_argument("action", choices=["generate-key", "rewrap"])
    keys = sub.add_parser("gateway-keys", help="gateway token signing keys: list, rotate, retire")
    keys.add_argument("action", choices=["list", "rotate", "retire"])
    args = parser.parse_args(argv)
    if args.cmd == "secrets" and args.action == "generate-key":
        print(Keyring.generate_spec(time.strftime("k%Y%m%d")))  # a key id that sorts by date
        return 0
    try:
        settings = load_settings(ApiSettings, service="api")
    except ConfigError as exc:
        print(f"wws-api: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "migrate":
        asyncio.run(_migrate(settings.database_url))
        return 0
    if args.cmd == "secrets":
        return _secrets(args.action, settings)
    if args.cmd == "gateway-keys":
        for line in asyncio.run(_gateway_keys(settings.database_url, args.action)):
            print(line)
        return 0
    if args.cmd == "login-link":
        print(asyncio.run(_login_link(settings, args.user)))
        return 0
    if args.cmd == "projections":
        asyncio.run(_rebuild(settings.database_url) if args.action == "rebuild" else _status(settings.database_url))
        return 0
    wlog.configure(service="api", level=settings.log_level, fmt=settings.log_format)
    tracing.configure(service="api", exporter=settings.otel_exporter, endpoint=settings.otel_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        ws="websockets-sansio",  # refusals answer the handshake with a status (websocket.http.response)
        ws_max_size=64 * 2**20,
        ws_ping_interval=None,  # the proxied app keeps its own connection alive
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
