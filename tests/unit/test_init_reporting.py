"""The init's report lines, as the in-workspace init writes them, decoded by the host
agent's watcher into events — and hostile lines ignored. The emitter is an in-memory
recorder (pure relay logic; the real path is covered end to end)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from wws_events import workspace as w
from wws_init.report import Reporter
from wws_init.steps import StepFailed, Steps
from wws_provisioner.initwatch import MAX_LINE, InitWatcher
from wws_provisioner.workdir import WorkspaceDirs

WS = uuid.UUID("00000000-0000-4000-8000-00000000000a")
RUN = uuid.UUID("00000000-0000-4000-8000-00000000000b")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, str]] = []

    async def emit(self, data: Any, *, cause: str, **_: Any) -> uuid.UUID:
        self.events.append((data, cause))
        return uuid.uuid4()


async def _relay(path: Path) -> tuple[Recorder, bool]:
    rec = Recorder()
    watcher = InitWatcher(rec, WorkspaceDirs(str(path.parent)))  # type: ignore[arg-type]
    finished = False
    for i, raw in enumerate(path.read_bytes().split(b"\n")):
        if raw:
            finished = await watcher._handle(WS, RUN, "default", RUN, i + 1, raw) or finished
    return rec, finished


async def test_steps_report_what_the_agent_relays(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    steps = Steps(Reporter(events, str(RUN)), tmp_path / "logs")
    assert steps.run("repository", "clone", lambda: "cloned")
    assert not steps.run(
        "bootstrap", "workspace", lambda: steps.command(["sh", "-c", "echo one; echo two >&2; exit 7"])
    )

    def broken() -> str:
        raise StepFailed("no token", exit_code=None)

    assert not steps.run("repository", "create", broken, degrades=False)
    Reporter(events, str(RUN)).emit(
        "finished", duration_ms=5, degraded=steps.outcome.degraded, failed_steps=steps.outcome.failed
    )

    rec, finished = await _relay(events)
    assert finished
    kinds = [type(d).__name__ for d, _ in rec.events]
    assert kinds == [
        "WorkspaceInitStepStarted",
        "WorkspaceInitStepSucceeded",
        "WorkspaceInitStepStarted",
        "WorkspaceInitStepFailed",
        "WorkspaceInitStepStarted",
        "WorkspaceInitStepFailed",
        "WorkspaceInitFinished",
    ]
    failed = rec.events[3][0]
    assert isinstance(failed, w.WorkspaceInitStepFailed)
    assert failed.exit_code == 7 and failed.output_tail == ["one", "two"] and failed.message == "exited with 7"
    done = rec.events[-1][0]
    assert isinstance(done, w.WorkspaceInitFinished)
    assert done.degraded and done.failed_steps == ["bootstrap:workspace", "repository:create"]
    # ids come from (run, line): re-reading the file after an agent restart records nothing twice
    assert len({cause for _, cause in rec.events}) == len(rec.events)
    again, _ = await _relay(events)
    assert [c for _, c in again.events] == [c for _, c in rec.events]


async def test_hostile_lines_are_ignored_or_cut(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    long = "x" * 1200
    huge = '{"type":"finished","duration_ms":1,"degraded":false,"failed_steps":["' + "y" * MAX_LINE + '"]}'
    events.write_text(
        "\n".join(
            [
                "not json",
                '{"type":"rm -rf"}',
                '{"type":"step_started","step":"nonsense","name":"a"}',
                '{"type":"step_failed","step":"bootstrap","name":"'
                + long
                + '","duration_ms":1,"message":"'
                + long
                + '",'
                '"output_tail":[' + ",".join(['"' + long + '"'] * 50) + "]}",
                huge,  # over the line cap: dropped, not relayed as "finished"
                '{"type":"devcontainer","status":"invalid","source":".devcontainer.json","message":"bad","line":3,"column":4}',
            ]
        )
        + "\n"
    )
    rec, finished = await _relay(events)
    assert not finished
    assert [type(d).__name__ for d, _ in rec.events] == ["WorkspaceInitStepFailed", "WorkspaceDevcontainerInvalid"]
    failed = rec.events[0][0]
    assert len(failed.name) == 200 and len(failed.message) == 1000
    assert len(failed.output_tail) == 20 and all(len(x) == 400 for x in failed.output_tail)
    invalid = rec.events[1][0]
    assert (invalid.line, invalid.column, invalid.message) == (3, 4, "bad")
