"""Wire format: golden files, round trips, unknown types, forward compatibility."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.golden.samples import EVENTS, ORDERS, event_envelope, order_envelope
from wws_events import (
    COMMAND_TYPES,
    EVENT_TYPES,
    CommandEnvelope,
    Envelope,
    RawCommand,
    RawEnvelope,
    _legacy,
    decode_command,
    decode_event,
    encode,
)

GOLDEN = Path(__file__).parents[1] / "golden"


def _pretty(raw: bytes) -> bytes:
    return msgspec.json.format(raw, indent=2) + b"\n"


@pytest.mark.parametrize("data", EVENTS, ids=lambda d: type(d).__name__)
def test_event_matches_its_golden_file(data: object) -> None:
    """Every event type encodes to exactly the bytes pinned in tests/golden/events."""
    env = event_envelope(data)  # type: ignore[arg-type]
    golden = (GOLDEN / "events" / f"{env.type}.json").read_bytes()
    assert _pretty(encode(env)) == golden
    decoded = decode_event(golden)
    assert decoded == env
    assert isinstance(decoded, Envelope)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: type(o).__name__)
def test_command_matches_its_golden_file(order: object) -> None:
    """Every agent order encodes to exactly the bytes pinned in tests/golden/commands."""
    cmd = order_envelope(order)  # type: ignore[arg-type]
    golden = (GOLDEN / "commands" / f"{cmd.type}.json").read_bytes()
    assert _pretty(encode(cmd)) == golden
    decoded = decode_command(golden)
    assert decoded == cmd
    assert isinstance(decoded, CommandEnvelope)


def test_every_type_has_a_golden_file() -> None:
    """A new event or command type cannot ship without pinning its wire format."""
    assert {p.stem for p in (GOLDEN / "events").glob("*.json")} == set(EVENT_TYPES)
    assert {p.stem for p in (GOLDEN / "commands").glob("*.json")} == set(COMMAND_TYPES)
    assert {event_envelope(e).type for e in EVENTS} == set(EVENT_TYPES)


def test_unknown_event_type_is_data_not_a_crash() -> None:
    """An event type this build does not know decodes to a RawEnvelope with its payload intact."""
    golden = (GOLDEN / "events" / "workspace.created.json").read_bytes()
    future = golden.replace(b'"workspace.created"', b'"workspace.teleported"')
    decoded = decode_event(future)
    assert isinstance(decoded, RawEnvelope)
    assert decoded.type == "workspace.teleported"
    assert msgspec.json.decode(decoded.data)["name"] == "ticket-123"


def test_unknown_command_type_is_data_not_a_crash() -> None:
    golden = (GOLDEN / "commands" / "agent.start.json").read_bytes()
    decoded = decode_command(golden.replace(b'"agent.start"', b'"agent.hibernate"'))
    assert isinstance(decoded, RawCommand)
    assert decoded.type == "agent.hibernate"


def test_new_fields_from_a_newer_producer_are_ignored() -> None:
    """Forward compatibility: unknown fields in envelope and payload are skipped."""
    obj = msgspec.json.decode((GOLDEN / "events" / "workspace.scheduled.json").read_bytes())
    obj["tenant_tier"] = "gold"
    obj["data"]["zone"] = "eu-1"
    decoded = decode_event(msgspec.json.encode(obj))
    assert isinstance(decoded, Envelope)
    assert decoded.data == EVENTS[1]


def test_malformed_known_event_raises_validation_error() -> None:
    obj = msgspec.json.decode((GOLDEN / "events" / "workspace.scheduled.json").read_bytes())
    obj["data"]["host_id"] = 42
    with pytest.raises(msgspec.ValidationError, match="host_id"):
        decode_event(msgspec.json.encode(obj))


def test_old_schema_versions_are_upcast_on_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored v1 payload is rewritten by its upcaster when the class is at v2."""
    from wws_events import workspace as w

    monkeypatch.setattr(w.WorkspaceStopRequested, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(
        _legacy.UPCASTERS, ("workspace.stop_requested", 1), lambda d: {**d, "reason": f"(v1) {d.get('reason')}"}
    )
    decoded = decode_event((GOLDEN / "events" / "workspace.stop_requested.json").read_bytes())
    assert isinstance(decoded, Envelope)
    assert isinstance(decoded.data, w.WorkspaceStopRequested)
    assert decoded.data.reason == "(v1) idle for 6h00m"


def test_missing_upcaster_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from wws_events import workspace as w

    monkeypatch.setattr(w.WorkspaceStopRequested, "SCHEMA_VERSION", 3)
    with pytest.raises(LookupError, match="no upcaster"):
        decode_event((GOLDEN / "events" / "workspace.stop_requested.json").read_bytes())
