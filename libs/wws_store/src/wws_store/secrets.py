"""Secret values at rest: AES-256-GCM envelope encryption with key-encryption keys (KEKs)
from configuration, addressed by key id so a new key can be introduced and old data
re-wrapped without downtime.

The additional authenticated data binds each ciphertext to its (scope, name): a value
copied into another row does not decrypt.
"""

from __future__ import annotations

import base64
import os

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wws_store.db import Conn, Executor

NONCE = 12


class SecretError(Exception):
    """A secret could not be decrypted (wrong key, tampered row) or configured."""


class Keyring(msgspec.Struct, frozen=True):
    """KEKs by id; the first is the one new secrets are wrapped with."""

    keys: dict[str, bytes]
    active: str

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """``kid1:base64key[,kid2:base64key...]``; each key is 32 bytes."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, _, b64 = part.partition(":")
            try:
                raw = base64.b64decode(b64, validate=True)
            except ValueError as exc:
                raise SecretError(f"key {kid!r} is not base64") from exc
            if not kid or len(raw) != 32:
                raise SecretError(f"key {kid!r} must be 32 bytes (base64), got {len(raw)}")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise SecretError("no secret keys configured")
        return cls(keys=keys, active=order[0])

    @staticmethod
    def generate_spec(kid: str = "k1") -> str:
        return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def _aad(scope: str, name: str) -> bytes:
    return f"wws-secret\0{scope}\0{name}".encode()


def seal(keyring: Keyring, scope: str, name: str, value: bytes) -> tuple[str, bytes, bytes]:
    dek = AESGCM.generate_key(bit_length=256)
    n1, n2 = os.urandom(NONCE), os.urandom(NONCE)
    ciphertext = n1 + AESGCM(dek).encrypt(n1, value, _aad(scope, name))
    wrapped = n2 + AESGCM(keyring.keys[keyring.active]).encrypt(n2, dek, _aad(scope, name))
    return keyring.active, wrapped, ciphertext


def open_(keyring: Keyring, scope: str, name: str, key_id: str, wrapped: bytes, ciphertext: bytes) -> bytes:
    kek = keyring.keys.get(key_id)
    if kek is None:
        raise SecretError(f"secret {scope}/{name} is wrapped with key {key_id!r}, which is not configured")
    try:
        dek = AESGCM(kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], _aad(scope, name))
        return AESGCM(dek).decrypt(ciphertext[:NONCE], ciphertext[NONCE:], _aad(scope, name))
    except InvalidTag as exc:
        raise SecretError(f"secret {scope}/{name} does not decrypt (tampered, or a wrong key)") from exc


async def put(conn: Conn, keyring: Keyring, scope: str, name: str, value: str) -> None:
    key_id, wrapped, ciphertext = seal(keyring, scope, name, value.encode())
    await conn.execute(
        """INSERT INTO wws_secrets (scope, name, key_id, wrapped_key, ciphertext) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (scope, name) DO UPDATE SET key_id = EXCLUDED.key_id, wrapped_key = EXCLUDED.wrapped_key,
             ciphertext = EXCLUDED.ciphertext, updated_at = clock_timestamp()""",
        scope,
        name,
        key_id,
        wrapped,
        ciphertext,
    )


async def get(db: Executor, keyring: Keyring, scope: str, name: str) -> str | None:
    row = await db.fetchrow(
        "SELECT key_id, wrapped_key, ciphertext FROM wws_secrets WHERE scope = $1 AND name = $2", scope, name
    )
    if row is None:
        return None
    return open_(keyring, scope, name, row["key_id"], bytes(row["wrapped_key"]), bytes(row["ciphertext"])).decode()


async def delete_scope(conn: Conn, scope: str) -> None:
    await conn.execute("DELETE FROM wws_secrets WHERE scope = $1", scope)


async def rewrap(db: Executor, keyring: Keyring, batch: int = 200) -> int:
    """Re-wrap every data key not under the active KEK (values are not re-encrypted)."""
    done = 0
    while True:
        rows = await db.fetch(
            "SELECT scope, name, key_id, wrapped_key FROM wws_secrets WHERE key_id <> $1 LIMIT $2",
            keyring.active,
            batch,
        )
        if not rows:
            return done
        for r in rows:
            kek = keyring.keys.get(r["key_id"])
            if kek is None:
                raise SecretError(f"secret {r['scope']}/{r['name']} uses key {r['key_id']!r}, which is not configured")
            aad = _aad(r["scope"], r["name"])
            wrapped = bytes(r["wrapped_key"])
            try:
                dek = AESGCM(kek).decrypt(wrapped[:NONCE], wrapped[NONCE:], aad)
            except InvalidTag as exc:
                raise SecretError(f"secret {r['scope']}/{r['name']} does not decrypt") from exc
            n = os.urandom(NONCE)
            new = n + AESGCM(keyring.keys[keyring.active]).encrypt(n, dek, aad)
            await db.execute(
                "UPDATE wws_secrets SET key_id = $3, wrapped_key = $4, updated_at = clock_timestamp() WHERE scope = $1 AND name = $2 AND key_id = $5",
                r["scope"],
                r["name"],
                keyring.active,
                new,
                r["key_id"],
            )
            done += 1
