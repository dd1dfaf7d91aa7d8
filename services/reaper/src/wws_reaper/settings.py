"""Reaper settings (env ``WWS_REAPER_<FIELD>``, shared ``WWS_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wws_service.settings import CommonSettings


class ReaperSettings(CommonSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str
    """PostgreSQL DSN."""
    idle_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 6 * 3600.0
    """A running workspace with no activity for this long is stopped."""
    warn_before_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    """Warn (a ``workspace.idle_warning`` event, on the workspace's event feed) this long
    before an idle stop; a workspace is stopped only after it was warned."""
    tick_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """How often idle workspaces are looked for."""
    operation_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 180.0
    """Deadline given to the host for an idle stop."""
    org_id: str = "default"
    """Organization the reaper's own commands are attributed to (workspaces keep theirs)."""
