"""The contract between the API and each host's access gateway.

The API proxies a user's traffic to the gateway of the host that runs the workspace; every
request carries a short-lived token the API signed (EdDSA, a compact JWS; the gateway
checks it with the public keys the API publishes in KV ``wws_gateway`` under ``keys``, a
JWKS). The gateway trusts nothing else: not the network, not a header.

Gateway routes (all under ``/w/<workspace id>``):

===========================  ==============  =========================================
route                        scope           what
===========================  ==============  =========================================
``/ide/<path>`` HTTP + WS    ``ide``         code-server (container port 8080)
``/port/<n>/<path>`` HTTP+WS ``port:<n>``    a port the workspace serves
``/terminal`` WS             ``terminal``    a PTY; JSON messages (see ``TerminalIn``)
``POST /exec``               ``exec``        run a command (JSON, or NDJSON when streamed)
``/files...``                ``files:read``, ``files:write``
``GET /metrics``             ``metrics``     current sample and short history
===========================  ==============  =========================================
"""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

GATEWAY_BUCKET = "wws_gateway"
KEYS_KEY = "keys"
ISSUER = "wws-api"
ALGORITHM = "Ed25519"
TOKEN_TTL_S = 60
"""A gateway token lives this long (the API mints one per proxied request or connection)."""

Scope = str
"""``ide``, ``terminal``, ``exec``, ``files:read``, ``files:write``, ``metrics``, ``port:<n>``."""


class GatewayClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The claims of a gateway token (JWT claim names)."""

    iss: str
    aud: str
    """The host id the token is for: another host's gateway refuses it."""
    sub: str
    """Who: ``user:<id>`` or ``share:<id>`` (authorization was decided by the API; share
    traffic does not count as activity)."""
    org: str
    """The workspace's organization (for the activity events the gateway records)."""
    ws: uuid.UUID
    scope: Scope
    iat: int
    exp: int
    jti: str


# ---------------------------------------------------------------- terminal messages


class TerminalIn(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="input"):
    data: str


class TerminalResize(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="resize"):
    cols: int
    rows: int


class TerminalOut(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="output"):
    data: str


class TerminalSession(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="session"):
    """First message of a connection: the session id to reconnect with, and whether the
    output that follows first is a replay of what was missed."""

    id: str
    replayed: bool = False


class TerminalExit(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="exit"):
    code: int | None


TerminalClientMessage = TerminalIn | TerminalResize
TerminalServerMessage = TerminalOut | TerminalSession | TerminalExit


# ---------------------------------------------------------------- exec


class ExecRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] = {}
    timeout_s: float = 60.0
    stdin: str | None = None
    stream: bool = False


class ExecResult(msgspec.Struct, frozen=True, kw_only=True):
    exit_code: int | None
    """None: killed at the timeout."""
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    duration_ms: int = 0


class ExecChunk(msgspec.Struct, frozen=True, kw_only=True):
    """One NDJSON line of a streamed exec: output, then a final line with the exit code."""

    stream: Literal["stdout", "stderr", "exit"]
    data: str = ""
    exit_code: int | None = None
