"""The Workspace state machine: every transition, and properties over random histories."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wws_events import (
    Actor,
    DomainError,
    Envelope,
    InvalidTransition,
    WorkspaceExists,
    WorkspaceNotFound,
    WorkspaceState,
    decide,
    dispatch,
    evolve,
    fold,
    new_envelope,
)
from wws_events import commands as c
from wws_events import workspace as w
from wws_events.workspace import ErrorInfo, Resources, WorkspaceSpec

WS = uuid.UUID("11111111-1111-4111-8111-111111111111")
SPEC = WorkspaceSpec(image="localhost/wws-base:bookworm", resources=Resources(cpu=1.0, memory_mb=512, disk_gb=5))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ERR = ErrorInfo(code="boom", message="it broke")
STATUSES = [
    "pending",
    "scheduled",
    "provisioning",
    "running",
    "stopping",
    "stopped",
    "starting",
    "deleting",
    "deleted",
    "failed",
]


class Timeline:
    """Builds a stream by deciding commands and applying agent outcomes, like the system does."""

    def __init__(self) -> None:
        self.envs: list[Envelope] = []
        self.state: WorkspaceState | None = None

    def apply(self, data: w.WorkspaceEvent) -> WorkspaceState | None:
        version = len(self.envs) + 1
        env = new_envelope(
            data,
            event_id=uuid.uuid4(),
            stream_id=str(WS),
            stream_version=version,
            occurred_at=T0 + timedelta(seconds=version),
            org_id="o",
            actor=Actor(type="user", id="u"),
            correlation_id=uuid.uuid4(),
        )
        self.envs.append(env)
        self.state = evolve(self.state, env)
        return self.state

    def do(self, command: c.WorkspaceCommand) -> list[w.WorkspaceEvent]:
        events = decide(self.state, command, uuid.uuid4(), workspace_id=WS)
        for e in events:
            self.apply(e)
        return events

    def succeed(self) -> None:
        s = self.state
        assert s is not None and s.last_command_id is not None and s.last_operation is not None
        self.apply(w.SUCCEEDED[s.last_operation](command_id=s.last_command_id, generation=s.generation))  # type: ignore[arg-type]

    def fail(self) -> None:
        s = self.state
        assert s is not None and s.last_command_id is not None and s.last_operation is not None
        self.apply(w.FAILED[s.last_operation](command_id=s.last_command_id, error=ERR))  # type: ignore[arg-type]


def create(placement: str | None = "h1") -> Timeline:
    t = Timeline()
    t.do(c.CreateWorkspace(workspace_id=WS, name="a", owner_id="u", spec=SPEC, placement=placement))
    return t


def in_status(status: str) -> Timeline:
    """A stream whose workspace is now in ``status``, reached the way the system reaches it."""
    if status == "pending":
        return create(placement=None)
    t = create()
    plans: dict[str, list[str | c.WorkspaceCommand]] = {
        "scheduled": [],
        "provisioning": ["started"],
        "running": ["ok"],
        "stopping": ["ok", c.StopWorkspace()],
        "stopped": ["ok", c.StopWorkspace(), "ok"],
        "starting": ["ok", c.StopWorkspace(), "ok", c.StartWorkspace()],
        "deleting": ["ok", c.DeleteWorkspace()],
        "deleted": ["ok", c.DeleteWorkspace(), "ok"],
        "failed": ["fail"],
    }
    steps = plans[status]
    for step in steps:
        if step == "ok":
            t.succeed()
        elif step == "fail":
            t.fail()
        elif step == "started":
            assert t.state is not None and t.state.last_command_id is not None
            t.apply(w.WorkspaceOperationStarted(command_id=t.state.last_command_id, operation="provision"))
        else:
            assert not isinstance(step, str)
            t.do(step)
    assert t.state is not None and t.state.status == status
    return t


ALLOWED: dict[str, dict[str, str]] = {
    # command -> {status it is allowed in -> status right after deciding}
    "start": {"stopped": "starting", "failed": "starting"},
    "stop": {"running": "stopping"},
    "restart": {"running": "stopping"},
    "rebuild": {"running": "provisioning", "stopped": "provisioning", "failed": "provisioning"},
    "delete": {s: "deleting" for s in STATUSES if s not in ("deleting", "deleted", "pending")} | {"pending": "deleted"},
    "schedule": {"pending": "scheduled"},
}
COMMANDS: dict[str, c.WorkspaceCommand] = {
    "start": c.StartWorkspace(),
    "stop": c.StopWorkspace(),
    "restart": c.RestartWorkspace(),
    "rebuild": c.RebuildWorkspace(),
    "delete": c.DeleteWorkspace(),
    "schedule": c.ScheduleWorkspace(host_id="h2", reason="test"),
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_transition_table(status: str, name: str) -> None:
    """Each command is allowed exactly in the statuses of the contract, and lands where it says."""
    t = in_status(status)
    allowed = ALLOWED[name]
    if status in allowed:
        events = t.do(COMMANDS[name])
        assert events
        assert t.state is not None and t.state.status == allowed[status]
    else:
        with pytest.raises(InvalidTransition) as info:
            t.do(COMMANDS[name])
        assert info.value.status == status


def test_create_twice_is_refused() -> None:
    t = create()
    with pytest.raises(WorkspaceExists):
        t.do(c.CreateWorkspace(workspace_id=WS, name="a", owner_id="u", spec=SPEC))


def test_commands_on_a_missing_workspace_are_not_found() -> None:
    with pytest.raises(WorkspaceNotFound):
        decide(None, c.StartWorkspace(), uuid.uuid4(), workspace_id=WS)


def test_create_without_placement_stays_pending_and_sends_no_order() -> None:
    t = create(placement=None)
    assert t.state is not None and t.state.status == "pending" and t.state.host_id is None
    assert all(dispatch(t.state, e.data) is None for e in t.envs)


def test_restart_walks_stopping_starting_running() -> None:
    t = in_status("running")
    t.do(c.RestartWorkspace())
    assert t.state is not None and t.state.status == "stopping"
    t.apply(w.WorkspaceRestartStopped(command_id=t.state.last_command_id))  # type: ignore[arg-type]
    assert t.state.status == "starting"
    t.succeed()
    assert t.state.status == "running"


def test_rebuild_bumps_generation_and_orders_it() -> None:
    t = in_status("stopped")
    gen = t.state.generation
    (event,) = t.do(c.RebuildWorkspace())
    assert t.state is not None and t.state.generation == gen + 1
    order = dispatch(t.state, event)
    assert isinstance(order, c.AgentRebuild) and order.generation == gen + 1


def test_late_outcome_of_an_old_command_changes_nothing() -> None:
    t = in_status("running")
    old = t.state.last_command_id
    t.do(c.StopWorkspace())
    before = t.state
    t.apply(w.WorkspaceStartFailed(command_id=old, error=ERR))  # type: ignore[arg-type]
    assert t.state is not None and before is not None
    assert t.state.status == "stopping" and t.state.last_error is None


def test_timeout_fails_the_operation_and_a_late_success_still_counts() -> None:
    t = in_status("stopped")
    t.do(c.StartWorkspace())
    cmd = t.state.last_command_id
    t.do(c.TimeOutOperation(command_id=cmd, message="host did not answer"))  # type: ignore[arg-type]
    assert t.state is not None and t.state.status == "failed" and t.state.last_error is not None
    assert t.state.last_error.code == "host_timeout"
    t.apply(w.WorkspaceStartSucceeded(command_id=cmd, generation=1))  # type: ignore[arg-type]
    assert t.state.status == "running"


def test_timeout_of_a_finished_command_is_refused() -> None:
    t = in_status("running")
    assert t.state is not None and t.state.last_command_id is not None
    with pytest.raises(InvalidTransition):
        t.do(c.TimeOutOperation(command_id=t.state.last_command_id, message="x"))


def test_failed_workspace_can_be_started_again() -> None:
    t = in_status("failed")
    t.do(c.StartWorkspace())
    t.succeed()
    assert t.state is not None and t.state.status == "running" and t.state.last_error is None


# ---------------------------------------------------------------- properties

ACTIONS = st.lists(
    st.sampled_from(
        ["start", "stop", "restart", "rebuild", "delete", "schedule", "ok", "fail", "stale", "timeout", "observe"]
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(actions=ACTIONS, placed=st.booleans())
def test_random_histories_keep_the_invariants(actions: list[str], placed: bool) -> None:
    """Over any interleaving of commands and host reports: decide only raises DomainError;
    versions count events; generation never decreases; deleted is final; folding the
    stream from scratch equals the step-by-step state; every order carries the state's
    generation."""
    t = create(placement="h1" if placed else None)
    stale_ids: list[uuid.UUID] = []
    for action in actions:
        s = t.state
        assert s is not None
        gen_before, deleted_before = s.generation, s.status == "deleted"
        if action in COMMANDS:
            try:
                events = t.do(COMMANDS[action])
            except DomainError:
                events = []
            for e in events:
                assert t.state is not None
                order = dispatch(t.state, e)
                if order is not None and hasattr(order, "generation"):
                    assert order.generation == t.state.generation
        elif action in ("ok", "fail") and s.last_command_id and s.last_operation:
            stale_ids.append(s.last_command_id)
            (t.succeed if action == "ok" else t.fail)()
        elif action == "stale" and stale_ids:
            t.apply(w.WorkspaceStartSucceeded(command_id=stale_ids[0], generation=0))
        elif action == "timeout" and s.last_command_id:
            with contextlib.suppress(DomainError):
                t.do(c.TimeOutOperation(command_id=s.last_command_id, message="t"))
        elif action == "observe":
            t.apply(w.WorkspaceObserved(container_id=None, runtime_status="missing", generation=s.generation))
        after = t.state
        assert after is not None
        assert after.status in STATUSES
        assert after.version == len(t.envs)
        assert after.generation >= gen_before
        if deleted_before:
            assert after.status == "deleted"
    assert fold(t.envs) == t.state
