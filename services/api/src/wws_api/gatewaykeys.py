"""Signing keys for gateway tokens: Ed25519, created once and kept in PostgreSQL so every
API replica signs with the same key; the public halves are published as a JWKS in NATS KV
(``wws_gateway``/``keys``), where each host's gateway reads them."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from typing import Any

import asyncpg
import structlog
from joserfc import jwt
from joserfc.jwk import OKPKey
from nats.js import JetStreamContext

from wws_events import gateway as g
from wws_events.gateway import ALGORITHM, ISSUER, TOKEN_TTL_S
from wws_service import bus
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.api.gateway_keys")


class GatewaySigner:
    def __init__(self, key: OKPKey, public: list[dict[str, Any]]) -> None:
        self.key = key
        self.public = public

    @classmethod
    async def load(cls, pool: asyncpg.Pool) -> GatewaySigner:
        """The newest key (created on first use; concurrent replicas agree on one)."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('wws-signing-keys', 0))")
            rows = await conn.fetch("SELECT kid, private_pem FROM wws_signing_keys ORDER BY created_at DESC")
            if not rows:
                kid = f"g{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
                key = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
                await conn.execute(
                    "INSERT INTO wws_signing_keys (kid, private_pem) VALUES ($1, $2)",
                    kid,
                    key.as_pem(private=True).decode(),
                )
                rows = await conn.fetch("SELECT kid, private_pem FROM wws_signing_keys ORDER BY created_at DESC")
        keys = [OKPKey.import_key(r["private_pem"], parameters={"kid": r["kid"]}) for r in rows]
        return cls(keys[0], [k.as_dict(private=False) for k in keys])

    @staticmethod
    async def rotate(pool: asyncpg.Pool) -> str:
        """A new signing key; API replicas sign with it from their next start, gateways
        accept both until the old ones are retired."""
        kid = f"g{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
        key = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
        await pool.execute(
            "INSERT INTO wws_signing_keys (kid, private_pem) VALUES ($1, $2)", kid, key.as_pem(private=True).decode()
        )
        return kid

    @staticmethod
    async def retire(pool: asyncpg.Pool) -> list[str]:
        """Every key but the newest (run once every API replica signs with the newest)."""
        rows = await pool.fetch(
            """DELETE FROM wws_signing_keys WHERE kid <> (SELECT kid FROM wws_signing_keys ORDER BY created_at DESC LIMIT 1)
               RETURNING kid"""
        )
        return [r["kid"] for r in rows]

    @staticmethod
    async def listing(pool: asyncpg.Pool) -> list[tuple[str, str]]:
        rows = await pool.fetch("SELECT kid, created_at FROM wws_signing_keys ORDER BY created_at DESC")
        return [(r["kid"], r["created_at"].isoformat()) for r in rows]

    async def publish(self, js: JetStreamContext) -> None:
        kv = await bus.gateway_bucket(js)
        await kv.put(g.KEYS_KEY, json.dumps({"keys": self.public}).encode())
        log.info("gateway.keys_published", kids=[k.get("kid") for k in self.public])

    async def keep_published(
        self, js: JetStreamContext, stop: asyncio.Event, pool: asyncpg.Pool | None = None, every_s: float = 60.0
    ) -> None:
        """Re-read the keys and re-publish now and then: a rotated key reaches the gateways
        first and is signed with after (within ``every_s``, on every replica, no restart);
        a retired one leaves the set; a rebuilt NATS is not left keyless."""
        while not stop.is_set():
            try:
                fresh = await GatewaySigner.load(pool) if pool is not None else self
                self.public = fresh.public
                await self.publish(js)
                self.key = fresh.key
            except Exception:
                log.exception("gateway.publish_failed")
            await wait_any(stop, timeout=every_s)

    def mint(
        self, *, host_id: str, subject: str, org_id: str, workspace_id: uuid.UUID, scope: str, ttl_s: int = TOKEN_TTL_S
    ) -> str:
        """A token for one proxied request or connection; ``subject`` is ``user:<id>`` or ``share:<id>``."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": host_id,
            "sub": subject,
            "org": org_id,
            "ws": str(workspace_id),
            "scope": scope,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
        }
        header = {"alg": ALGORITHM, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=[ALGORITHM])
