"""Ed25519-signed checkpoints of the chain head, so a rewrite of the whole tail by a
database superuser is still detectable by anyone holding the public key."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wws_service.clock import Clock
from wws_service.lifecycle import wait_any
from wws_store.db import Executor

log = structlog.get_logger("wws.audit.signing")


def checkpoint_message(position: int, digest: bytes) -> bytes:
    return b"wws-audit-checkpoint\0" + position.to_bytes(8, "big") + digest


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def load_private(path: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: str) -> Ed25519PublicKey:
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def generate(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)
    return key


async def sign_head(db: Executor, key: Ed25519PrivateKey, clock: Clock) -> int | None:
    """Sign the current head if it is not signed yet; returns the signed position."""
    head = await db.fetchrow("SELECT global_position, hash FROM wws_events ORDER BY global_position DESC LIMIT 1")
    if head is None:
        return None
    position, digest = head["global_position"], bytes(head["hash"])
    signature = key.sign(checkpoint_message(position, digest))
    status = await db.execute(
        """INSERT INTO wws_audit_checkpoints (position, hash, signed_at, key_id, signature)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (position) DO NOTHING""",
        position,
        digest,
        clock.now(),
        key_id(key.public_key()),
        signature,
    )
    if status.endswith(" 1"):
        log.info("audit.checkpoint_signed", position=position)
        return int(position)
    return None


async def run(db: Executor, key: Ed25519PrivateKey, clock: Clock, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await sign_head(db, key, clock)
        except Exception:
            log.exception("audit.checkpoint_failed")
        await wait_any(stop, timeout=interval)
