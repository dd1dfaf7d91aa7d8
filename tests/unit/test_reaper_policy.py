"""The idle rule, pure: warn first (``warn_before`` ahead), stop only what was warned and is
idle past its own timeout; a new sign of work starts a new idle period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from wws_reaper.policy import IdleView, due, warnings

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def view(idle_since: datetime, *, warned: datetime | None = None, timeout_s: float | None = None) -> IdleView:
    return IdleView(
        workspace_id=uuid.UUID(int=1),
        status="running",
        last_activity_at=idle_since,
        last_signal="activity:terminal",
        idle_timeout_s=timeout_s,
        warned_for=warned,
    )


def test_warned_before_the_timeout_then_stopped_at_it() -> None:
    v = view(T0)
    assert warnings([v], T0 + 5 * H, 6 * H, timedelta(minutes=10)) == []
    (w,) = warnings([v], T0 + 6 * H - timedelta(minutes=10), 6 * H, timedelta(minutes=10))
    assert w.stop_at == T0 + 6 * H and w.last_signal == "activity:terminal"
    assert due([v], T0 + 7 * H, 6 * H) == []  # never stopped without a warning
    warned = view(T0, warned=T0)
    assert warnings([warned], T0 + 7 * H, 6 * H, timedelta(minutes=10)) == []  # warned once per idle period
    (stop,) = due([warned], T0 + 6 * H, 6 * H)
    assert "idle for 6h00m" in stop.reason and "activity:terminal" in stop.reason


def test_activity_starts_a_new_idle_period() -> None:
    later = T0 + 2 * H
    v = view(later, warned=T0)  # the old warning was for the period that began at T0
    assert due([v], later + 7 * H, 6 * H) == []
    assert len(warnings([v], later + 6 * H, 6 * H, timedelta(minutes=10))) == 1


def test_the_workspaces_own_timeout_and_deterministic_ids() -> None:
    v = view(T0, warned=T0, timeout_s=1800)
    assert [s.workspace_id for s in due([v], T0 + timedelta(minutes=31), 6 * H)] == [v.workspace_id]
    a = warnings([view(T0)], T0 + 6 * H, 6 * H, timedelta(0))[0]
    b = warnings([view(T0)], T0 + 8 * H, 6 * H, timedelta(0))[0]
    assert a.command_id == b.command_id  # a restarted reaper warns about the same period with the same id
