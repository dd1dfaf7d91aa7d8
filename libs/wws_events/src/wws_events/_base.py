"""Envelope and the two message bases every event and command derives from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Outcome = Literal["success", "failure", "denied", "noop"]
ActorType = Literal["user", "service", "system"]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who caused a change (NIST AU-3 "identity" and "source")."""

    type: ActorType
    id: str
    ip: str | None = None
    display: str | None = None

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM_REAPER = Actor(type="system", id="reaper")
SYSTEM_SCHEDULER = Actor(type="system", id="scheduler")
SYSTEM_SUPERVISOR = Actor(type="system", id="supervisor")


class EventData(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Payload of an event: a fact. Subclasses set ``tag=`` and repeat ``kw_only=True``.

    ``SCHEMA_VERSION`` is bumped only for an additive change that readers must know
    about; a breaking change gets a new tag (see ``_legacy``).
    """

    SCHEMA_VERSION: ClassVar[int] = 1
    STREAM_TYPE: ClassVar[str] = "workspace"
    OUTCOME: ClassVar[Outcome] = "success"


class CommandData(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Payload of a command addressed to one handler, which answers with events."""

    SCHEMA_VERSION: ClassVar[int] = 1


class EnvelopeHead(msgspec.Struct, frozen=True, kw_only=True):
    """Metadata shared by every stored event, whatever its payload."""

    event_id: uuid.UUID
    type: str
    schema_version: int
    stream_type: str
    stream_id: str
    stream_version: int | None = None
    """1-based position in the stream; producers that cannot know it (agents) leave it
    unset and the recorder assigns it under the append lock."""
    occurred_at: datetime
    org_id: str
    actor: Actor
    host_id: str | None = None
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    outcome: Outcome = "success"
    reason: str | None = None
    traceparent: str | None = None


class RawEnvelope(EnvelopeHead, frozen=True, kw_only=True):
    """An envelope whose payload is kept as the exact JSON it arrived with.

    The recorder and the audit trail use it so an event type this build does not know
    is stored and shown unchanged instead of crashing the consumer.
    """

    data: msgspec.Raw


class CommandHead(msgspec.Struct, frozen=True, kw_only=True):
    """Metadata of a command sent to a host agent."""

    command_id: uuid.UUID
    type: str
    schema_version: int
    workspace_id: uuid.UUID
    host_id: str
    seq: int
    """Stream version of the workspace when the command was decided; an agent refuses a
    command older than one it already applied for the same workspace."""
    org_id: str
    actor: Actor
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    issued_at: datetime
    deadline: datetime
    """After this instant the control plane has given up on the command; an agent that
    sees it later rejects it instead of acting on a decision nobody waits for."""
    traceparent: str | None = None


class RawCommand(CommandHead, frozen=True, kw_only=True):
    """A command whose payload has not been decoded (unknown or future type)."""

    data: msgspec.Raw


def tag_of(cls: type[EventData] | type[CommandData]) -> str:
    """The wire tag of a payload class."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):  # pragma: no cover - every concrete class sets one
        raise TypeError(f"{cls.__name__} has no string tag")
    return tag
