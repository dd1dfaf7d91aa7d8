"""JSON codec for envelopes and commands. An unknown type decodes to a ``Raw*`` value
(data, not a crash); a malformed known type raises ``msgspec.ValidationError``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, get_args

import msgspec

from wws_events._base import Actor, CommandData, EventData, RawCommand, RawEnvelope, tag_of
from wws_events._legacy import upcast
from wws_events.commands import AgentCommand, CommandEnvelope
from wws_events.events import AnyEvent, Envelope

EVENT_TYPES: dict[str, type[EventData]] = {tag_of(cls): cls for cls in get_args(AnyEvent)}
COMMAND_TYPES: dict[str, type[CommandData]] = {tag_of(cls): cls for cls in get_args(AgentCommand)}

_encoder = msgspec.json.Encoder()
_raw_event = msgspec.json.Decoder(RawEnvelope)
_raw_command = msgspec.json.Decoder(RawCommand)
_event_data: dict[str, msgspec.json.Decoder[Any]] = {t: msgspec.json.Decoder(cls) for t, cls in EVENT_TYPES.items()}
_command_data: dict[str, msgspec.json.Decoder[Any]] = {t: msgspec.json.Decoder(cls) for t, cls in COMMAND_TYPES.items()}


def encode(value: msgspec.Struct) -> bytes:
    """Canonical bytes: fields in declaration order, no whitespace. The audit hash covers them."""
    return _encoder.encode(value)


def _payload(
    decoders: dict[str, msgspec.json.Decoder[Any]], types: dict[str, Any], tag: str, version: int, raw: msgspec.Raw
) -> Any:
    cls = types[tag]
    if version < cls.SCHEMA_VERSION:
        plain = upcast(tag, version, cls.SCHEMA_VERSION, msgspec.json.decode(raw))
        return msgspec.convert(plain, cls)
    return decoders[tag].decode(raw)


def typed_event(raw: RawEnvelope) -> Envelope | RawEnvelope:
    """Decode the payload when its type is known; otherwise keep the raw envelope."""
    if raw.type not in EVENT_TYPES:
        return raw
    data = _payload(_event_data, EVENT_TYPES, raw.type, raw.schema_version, raw.data)
    fields = {f: getattr(raw, f) for f in raw.__struct_fields__ if f != "data"}
    return Envelope(**fields, data=data)


def decode_event(payload: bytes | str) -> Envelope | RawEnvelope:
    return typed_event(_raw_event.decode(payload))


def decode_raw_event(payload: bytes | str) -> RawEnvelope:
    return _raw_event.decode(payload)


def decode_command(payload: bytes | str) -> CommandEnvelope | RawCommand:
    raw = _raw_command.decode(payload)
    if raw.type not in COMMAND_TYPES:
        return raw
    data = _payload(_command_data, COMMAND_TYPES, raw.type, raw.schema_version, raw.data)
    fields = {f: getattr(raw, f) for f in raw.__struct_fields__ if f != "data"}
    return CommandEnvelope(**fields, data=data)


def new_envelope(
    data: AnyEvent,
    *,
    event_id: uuid.UUID,
    stream_id: str,
    occurred_at: datetime,
    org_id: str,
    actor: Actor,
    correlation_id: uuid.UUID,
    causation_id: uuid.UUID | None = None,
    stream_version: int | None = None,
    host_id: str | None = None,
    reason: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Wrap a payload; type, schema version, stream type and outcome come from its class."""
    cls = type(data)
    return Envelope(
        event_id=event_id,
        type=tag_of(cls),
        schema_version=cls.SCHEMA_VERSION,
        stream_type=cls.STREAM_TYPE,
        stream_id=stream_id,
        stream_version=stream_version,
        occurred_at=occurred_at,
        org_id=org_id,
        actor=actor,
        host_id=host_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        outcome=cls.OUTCOME,
        reason=reason,
        traceparent=traceparent,
        data=data,
    )
