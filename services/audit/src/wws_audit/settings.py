"""Audit settings (env ``WWS_AUDIT_<FIELD>``, shared ``WWS_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wws_service.settings import CommonSettings


class AuditSettings(CommonSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str
    """PostgreSQL DSN."""
    signing_key_file: str = ""
    """Ed25519 private key (PEM) that signs chain checkpoints; empty = no signing."""
    checkpoint_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """How often a new chain head is signed (when the log grew)."""
