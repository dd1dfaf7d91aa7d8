"""WWS wire contracts.

Everything that crosses a process boundary (NATS, Postgres ``wws_events.body``) is
declared here as a frozen ``msgspec.Struct``; nothing else defines one.

Version history (wire format):
    1  2026-11  first release: envelope v1, workspace/host/activity events, agent orders.

Rules: add fields with defaults only; never change a field's type; never reuse a tag;
a breaking change gets a new tag and an upcaster in ``_legacy``.
"""

from wws_events._base import (
    SYSTEM_REAPER,
    SYSTEM_SCHEDULER,
    SYSTEM_SUPERVISOR,
    Actor,
    CommandData,
    CommandHead,
    EnvelopeHead,
    EventData,
    Outcome,
    RawCommand,
    RawEnvelope,
    tag_of,
)
from wws_events.aggregate import TRANSITIONAL, WorkspaceState, decide, dispatch, evolve, fold
from wws_events.codec import (
    COMMAND_TYPES,
    EVENT_TYPES,
    decode_command,
    decode_event,
    decode_raw_event,
    encode,
    new_envelope,
    typed_event,
)
from wws_events.commands import AgentCommand, CommandEnvelope, WorkspaceCommand
from wws_events.errors import DomainError, InvalidTransition, WorkspaceExists, WorkspaceNotFound
from wws_events.events import AnyEvent, Envelope

__all__ = [
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "SYSTEM_REAPER",
    "SYSTEM_SCHEDULER",
    "SYSTEM_SUPERVISOR",
    "TRANSITIONAL",
    "Actor",
    "AgentCommand",
    "AnyEvent",
    "CommandData",
    "CommandEnvelope",
    "CommandHead",
    "DomainError",
    "Envelope",
    "EnvelopeHead",
    "EventData",
    "InvalidTransition",
    "Outcome",
    "RawCommand",
    "RawEnvelope",
    "WorkspaceCommand",
    "WorkspaceExists",
    "WorkspaceNotFound",
    "WorkspaceState",
    "decide",
    "decode_command",
    "decode_event",
    "decode_raw_event",
    "dispatch",
    "encode",
    "evolve",
    "fold",
    "new_envelope",
    "tag_of",
    "typed_event",
]
