"""Bearer credentials WWS mints: API tokens (``wws_<id>_<secret>``), session cookies
(``<id>.<secret>``), one-time links. Only SHA-256 of the secret part is stored: the
secrets are 256 random bits, so a slow hash buys nothing, and lookups go by the id."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "wws_"  # noqa: S105 - a prefix, not a secret
_TOKEN = re.compile(r"^wws_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$")
_SESSION = re.compile(r"^([a-z0-9]{16})\.([A-Za-z0-9_-]{43})$")


def new_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored)


def api_token(token_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


def parse_api_token(value: str) -> tuple[str, str] | None:
    m = _TOKEN.match(value)
    return (m.group(1), m.group(2)) if m else None


def session_cookie(session_id: str, secret: str) -> str:
    return f"{session_id}.{secret}"


def parse_session_cookie(value: str) -> tuple[str, str] | None:
    m = _SESSION.match(value)
    return (m.group(1), m.group(2)) if m else None
