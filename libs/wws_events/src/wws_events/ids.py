"""Deterministic identifiers, so a retried handler produces the same ids and the
duplicates die on ``UNIQUE(event_id)`` / ``Nats-Msg-Id`` instead of doubling effects."""

from __future__ import annotations

import uuid

NS_EVENT = uuid.UUID("6f7e1c3a-8f0e-4f7e-9a53-2f5b0f6c0a01")
NS_COMMAND = uuid.UUID("6f7e1c3a-8f0e-4f7e-9a53-2f5b0f6c0a02")


def event_id(cause: uuid.UUID | str, event_type: str, n: int = 0) -> uuid.UUID:
    """Id of the ``n``-th event of ``event_type`` caused by ``cause`` (a command id)."""
    return uuid.uuid5(NS_EVENT, f"{cause}:{event_type}:{n}")


def command_id(*parts: object) -> uuid.UUID:
    """A command id derived from what decided it, e.g. ``("reap", workspace_id, idle_since)``."""
    return uuid.uuid5(NS_COMMAND, ":".join(str(p) for p in parts))
