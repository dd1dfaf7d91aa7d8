"""The API's public keys, followed live from KV, and the check of each gateway token."""

from __future__ import annotations

import asyncio
import time

import msgspec
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from nats.js import JetStreamContext

from wws_events.gateway import ALGORITHM, ISSUER, KEYS_KEY, GatewayClaims
from wws_provisioner.gateway.context import GatewayError
from wws_service import bus
from wws_service.lifecycle import wait_any

log = structlog.get_logger("wws.agent.gateway.keys")
LEEWAY_S = 5
"""Clock skew tolerated between the API's host and this one."""


class TokenVerifier:
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.keys: KeySet | None = None
        self._checked: dict[str, GatewayClaims] = {}
        self._raw = b""

    def load(self, jwks: bytes) -> None:
        self.keys = KeySet.import_key_set(msgspec.json.decode(jwks))
        self._checked.clear()  # a key removed from the set must stop working at once

    def verify(self, token: str) -> GatewayClaims:
        """The claims of a valid token. A token already checked is not checked again
        (the API reuses a token for a while): its expiry is."""
        found = self._checked.get(token)
        if found is not None:
            if found.exp + LEEWAY_S < time.time():
                raise GatewayError(401, "the gateway token has expired")
            return found
        claims = self._verify(token)
        if len(self._checked) > 10_000:
            now = time.time()
            self._checked = {k: v for k, v in self._checked.items() if v.exp + LEEWAY_S >= now}
        self._checked[token] = claims
        return claims

    def _verify(self, token: str) -> GatewayClaims:
        if self.keys is None:
            raise GatewayError(503, "the gateway has no keys from the API yet")
        try:
            decoded = jwt.decode(token, self.keys, algorithms=[ALGORITHM])
        except (JoseError, ValueError) as exc:
            raise GatewayError(401, f"invalid gateway token: {type(exc).__name__}") from exc
        if decoded.header.get("alg") != ALGORITHM:
            raise GatewayError(401, "invalid gateway token: algorithm")
        try:
            claims = msgspec.convert(decoded.claims, GatewayClaims)
        except msgspec.ValidationError as exc:
            raise GatewayError(401, f"invalid gateway token: {exc}") from exc
        now = time.time()
        if claims.iss != ISSUER:
            raise GatewayError(401, "invalid gateway token: issuer")
        if claims.aud != self.host_id:
            raise GatewayError(401, "the token is for another host")
        if claims.exp + LEEWAY_S < now or claims.iat - LEEWAY_S > now:
            raise GatewayError(401, "the gateway token has expired")
        return claims

    async def follow(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        """Keep the key set current: a watch on the KV key (a rotation applies at once); the
        watch is re-opened if it ends (NATS restarted)."""
        while not stop.is_set():
            try:
                kv = await bus.gateway_bucket(js)
                watcher = await kv.watch(KEYS_KEY)
                try:
                    while not stop.is_set():
                        try:
                            entry = await watcher.updates(timeout=5.0)  # type: ignore[no-untyped-call]
                        except TimeoutError:
                            continue
                        # the API re-publishes every minute: only a changed set is news
                        if entry is not None and entry.value and entry.value != self._raw:
                            self.load(entry.value)
                            self._raw = entry.value
                            log.info("gateway.keys_loaded", kids=[k.kid for k in self.keys.keys] if self.keys else [])
                finally:
                    await watcher.stop()  # type: ignore[no-untyped-call]
            except Exception:
                log.exception("gateway.keys_watch_failed")
                await wait_any(stop, timeout=2.0)
