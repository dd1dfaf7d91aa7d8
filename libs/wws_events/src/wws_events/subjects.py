"""Subjects, stream and bucket names on NATS. Nothing else spells them."""

from __future__ import annotations

import re

CMD_STREAM = "WWS_CMD"
EVT_STREAM = "WWS_EVT"
CMD_SUBJECTS = "wws.cmd.>"
EVT_SUBJECTS = "wws.evt.>"
HOSTS_BUCKET = "wws_hosts"
AGENT_STATE_BUCKET = "wws_agent_state"
DESIRED_PREFIX = "wws.ctl.desired"
SECRETS_PREFIX = "wws.ctl.secrets"

HEADER_EVENT_TYPE = "WWS-Event-Type"
HEADER_COMMAND_TYPE = "WWS-Command-Type"
HEADER_TRACEPARENT = "traceparent"
HEADER_MSG_ID = "Nats-Msg-Id"

_HOST = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


def valid_host_id(host_id: str) -> bool:
    """A host id is one NATS subject token: lowercase, digits, ``-``/``_``, at most 63 chars."""
    return bool(_HOST.match(host_id))


def _token(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"not a subject token: {value!r}")
    return value


def host_commands(host_id: str) -> str:
    return f"wws.cmd.host.{_token(host_id)}"


def event_subject(stream_type: str, stream_id: str) -> str:
    return f"wws.evt.{_token(stream_type)}.{_token(stream_id)}"


def desired_state(host_id: str) -> str:
    return f"{DESIRED_PREFIX}.{_token(host_id)}"


def secrets_request(host_id: str) -> str:
    return f"{SECRETS_PREFIX}.{_token(host_id)}"


def agent_durable(host_id: str) -> str:
    return f"agent-{_token(host_id)}"


def agent_state_key(host_id: str, workspace_id: str) -> str:
    return f"{_token(host_id)}.{_token(workspace_id)}"
