"""The gateway trusts only tokens the API signed, for this host, not expired: keys travel
from the API's PostgreSQL to the gateway through NATS KV (real both)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import asyncpg
import httpx
import pytest
from joserfc.jwk import OKPKey
from nats.js import JetStreamContext

from tests.fixtures.services import free_port
from wws_api.gatewaykeys import GatewaySigner
from wws_events.gateway import GatewayClaims
from wws_provisioner.gateway.context import GatewayError
from wws_provisioner.gateway.keys import TokenVerifier
from wws_provisioner.gateway.server import build_app, serve

WS = uuid.uuid4()


def _mint(signer: GatewaySigner, **over: object) -> str:
    claims = {"host_id": "h1", "subject": "user:u1", "org_id": "o1", "workspace_id": WS, "scope": "ide"}
    claims.update(over)
    return signer.mint(**claims)  # type: ignore[arg-type]


async def _follow(verifier: TokenVerifier, js: JetStreamContext, stop: asyncio.Event) -> asyncio.Task[None]:
    task = asyncio.create_task(verifier.follow(js, stop))
    for _ in range(100):
        if verifier.keys is not None:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway never got the keys")


async def test_tokens_are_checked_with_the_keys_the_api_publishes(pg_pool: asyncpg.Pool, js: JetStreamContext) -> None:
    signer = await GatewaySigner.load(pg_pool)
    assert (await GatewaySigner.load(pg_pool)).key.kid == signer.key.kid  # one key for every replica
    await signer.publish(js)
    verifier = TokenVerifier("h1")
    stop = asyncio.Event()
    task = await _follow(verifier, js, stop)
    try:
        claims = verifier.verify(_mint(signer))
        assert isinstance(claims, GatewayClaims) and claims.ws == WS and claims.scope == "ide" and claims.org == "o1"

        refusals = {
            "another host": _mint(signer, host_id="h2"),
            "expired": _mint(signer, ttl_s=-30),
            "foreign key": GatewaySigner(
                OKPKey.generate_key("Ed25519", parameters={"kid": str(signer.key.kid)}), []
            ).mint(host_id="h1", subject="user:u1", org_id="o1", workspace_id=WS, scope="ide"),
        }
        good = _mint(signer)
        head, body, sig = good.split(".")
        payload = json.loads(base64.urlsafe_b64decode(body + "=="))
        payload["scope"] = "exec"
        forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        refusals["tampered claims"] = f"{head}.{forged}.{sig}"
        none_head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        refusals["alg none"] = f"{none_head}.{body}."
        for what, token in refusals.items():
            with pytest.raises(GatewayError) as err:
                verifier.verify(token)
            assert err.value.status == 401, what
    finally:
        stop.set()
        await task


async def test_the_gateway_refuses_requests_without_a_valid_token(pg_pool: asyncpg.Pool, js: JetStreamContext) -> None:
    signer = await GatewaySigner.load(pg_pool)
    await signer.publish(js)
    verifier = TokenVerifier("h1")
    stop = asyncio.Event()
    port = free_port()
    server = asyncio.create_task(serve(build_app(verifier, []), f"127.0.0.1:{port}", verifier, js, stop))
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=5) as c:
            for _ in range(100):
                try:
                    if (await c.get("/healthz")).json()["keys"]:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            path = f"/w/{WS}/metrics"
            r = await c.get(path)
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
            r = await c.get(path, headers={"Authorization": f"Bearer {_mint(signer, host_id='h2')}"})
            assert r.status_code == 401 and "another host" in r.json()["detail"]
            r = await c.get(path, headers={"Authorization": f"Bearer {_mint(signer)}"})
            assert r.status_code == 404  # through the door; nothing is mounted in this app
            assert time.time() > 0
    finally:
        stop.set()
        await server


async def test_a_rotated_key_reaches_the_gateway_before_it_signs(pg_pool: asyncpg.Pool, js: JetStreamContext) -> None:
    signer = await GatewaySigner.load(pg_pool)
    verifier = TokenVerifier("h1")
    stop = asyncio.Event()
    publisher = asyncio.create_task(signer.keep_published(js, stop, pg_pool, every_s=0.2))
    follower = await _follow(verifier, js, stop)
    try:
        old_kid, old_token = signer.key.kid, _mint(signer)
        new_kid = await GatewaySigner.rotate(pg_pool)
        for _ in range(100):
            if signer.key.kid == new_kid:
                break
            await asyncio.sleep(0.05)
        assert signer.key.kid == new_kid and signer.key.kid != old_kid
        assert verifier.verify(_mint(signer)).ws == WS  # the new key was published first
        assert verifier.verify(old_token).ws == WS  # tokens of the old key still pass until it retires
        assert await GatewaySigner.retire(pg_pool) == [old_kid]
        for _ in range(100):
            if verifier.keys is not None and [k.kid for k in verifier.keys.keys] == [new_kid]:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(GatewayError):
            verifier.verify(old_token)
    finally:
        stop.set()
        await asyncio.gather(publisher, follower)
