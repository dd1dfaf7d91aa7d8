"""Walk the hash chain and name the first position where it breaks.

For every row, in position order: ``prev_hash`` must equal the previous row's ``hash``;
``hash`` must equal ``sha256(prev_hash || body)``; and the denormalized columns must say
what the body says. Signed checkpoints are checked against the chain and the public key.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wws_audit.signing import checkpoint_message
from wws_events import RawEnvelope, decode_raw_event
from wws_store.db import Executor
from wws_store.eventstore import GENESIS, chain_hash


class Broken(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    problem: str


class Report(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int
    head_position: int
    head_hash: str
    first_broken: Broken | None = None
    checkpoints_checked: int = 0


_COLUMNS: tuple[tuple[str, Callable[[RawEnvelope], object]], ...] = (
    ("event_id", lambda e: e.event_id),
    ("event_type", lambda e: e.type),
    ("stream_id", lambda e: e.stream_id),
    ("stream_version", lambda e: e.stream_version),
    ("org_id", lambda e: e.org_id),
    ("actor_type", lambda e: e.actor.type),
    ("actor_id", lambda e: e.actor.id),
    ("outcome", lambda e: e.outcome),
    ("occurred_at", lambda e: e.occurred_at),
)


def _row_problem(r: asyncpg.Record, expected_prev: bytes) -> str | None:
    prev, digest, body = bytes(r["prev_hash"]), bytes(r["hash"]), r["body"].encode()
    if prev != expected_prev:
        return (
            "prev_hash does not match the previous event's hash (an earlier event was removed, inserted or rewritten)"
        )
    if digest != chain_hash(prev, body):
        return "hash does not match sha256(prev_hash || body) (the stored body was changed)"
    try:
        env = decode_raw_event(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"body is not a valid envelope: {exc}"
    for column, get in _COLUMNS:
        if r[column] != get(env):
            return f"column {column} ({r[column]!r}) differs from the hashed body ({get(env)!r})"
    return None


async def verify(db: Executor, *, public_key: Ed25519PublicKey | None = None, batch: int = 2000) -> Report:
    expected = GENESIS
    checked = 0
    last_pos = 0
    hashes_at: dict[int, bytes] = {}
    checkpoints = {
        r["position"]: r for r in await db.fetch("SELECT position, hash, signature, key_id FROM wws_audit_checkpoints")
    }
    while True:
        rows = await db.fetch(
            f"""SELECT global_position, prev_hash, hash, body, {", ".join(c for c, _ in _COLUMNS)}
                FROM wws_events WHERE global_position > $1 ORDER BY global_position LIMIT $2""",  # noqa: S608
            last_pos,
            batch,
        )
        if not rows:
            break
        for r in rows:
            problem = _row_problem(r, expected)
            if problem is not None:
                return Report(
                    ok=False,
                    checked=checked,
                    head_position=last_pos,
                    head_hash=expected.hex(),
                    first_broken=Broken(position=r["global_position"], problem=problem),
                )
            expected = bytes(r["hash"])
            last_pos = r["global_position"]
            if last_pos in checkpoints:
                hashes_at[last_pos] = expected
            checked += 1
    for position, cp in sorted(checkpoints.items()):
        if position not in hashes_at or hashes_at[position] != bytes(cp["hash"]):
            return Report(
                ok=False,
                checked=checked,
                head_position=last_pos,
                head_hash=expected.hex(),
                first_broken=Broken(
                    position=position, problem="signed checkpoint does not match the chain at this position"
                ),
            )
        if public_key is not None:
            try:
                public_key.verify(bytes(cp["signature"]), checkpoint_message(position, bytes(cp["hash"])))
            except InvalidSignature:
                return Report(
                    ok=False,
                    checked=checked,
                    head_position=last_pos,
                    head_hash=expected.hex(),
                    first_broken=Broken(
                        position=position, problem=f"checkpoint signature is not valid for key {cp['key_id']}"
                    ),
                )
    return Report(
        ok=True, checked=checked, head_position=last_pos, head_hash=expected.hex(), checkpoints_checked=len(checkpoints)
    )
