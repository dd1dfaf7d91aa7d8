"""Activity on real servers: the recorder's events on JetStream, and the CPU watcher reading
the processes of real Podman containers from /proc."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.integration.workspace_containers import exec_detached, start_workspace, write_run_meta
from tests.timeouts import WAIT_SHORT, eventually
from wws_events import Envelope, decode_event, subjects
from wws_events.ids import event_id
from wws_events.workspace import WorkspaceActivityRecorded
from wws_provisioner.emitter import Emitter
from wws_provisioner.gateway.activity import ActivityRecorder, CpuWatcher, activity_cause
from wws_provisioner.runtime.podman import PodmanRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ORG = "org-activity"
LOOK_S = 1.0
IGNORED = "wws-test-ignored"
BUSY = "while :; do :; done"


class SettableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class Notes:
    def __init__(self) -> None:
        self.got: list[tuple[uuid.UUID, str, str]] = []

    def note(self, workspace_id: uuid.UUID, org_id: str, source: str) -> None:
        self.got.append((workspace_id, org_id, source))

    def of(self, ws: uuid.UUID) -> list[tuple[uuid.UUID, str, str]]:
        return [n for n in self.got if n[0] == ws]


async def activity_events(js: JetStreamContext, ws: uuid.UUID) -> list[Msg]:
    sub = await js.pull_subscribe(
        subjects.event_subject("activity", f"activity-{ws}"),
        durable=f"t{uuid.uuid4().hex[:8]}",
        stream=subjects.EVT_STREAM,
    )
    try:
        return await sub.fetch(batch=100, timeout=1)
    except (nats.errors.TimeoutError, TimeoutError):
        return []
    finally:
        await sub.unsubscribe()


# ---------------------------------------------------------------- recorder


async def _ready(value: bool) -> bool:
    return value


async def test_many_notes_in_one_interval_record_one_event_even_across_restarts(
    js: JetStreamContext, host_id: str
) -> None:
    start = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
    clock = SettableClock(start)
    emitter = Emitter(js, host_id, "system", clock, "test")
    settings = ProvisionerSettings(host_id=host_id, activity_interval_s=60.0)
    ws, other = uuid.uuid4(), uuid.uuid4()
    first, restarted = ActivityRecorder(emitter, settings), ActivityRecorder(emitter, settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in (first, restarted)]
    try:
        for n in range(50):
            first.note(ws, ORG, ("ide", "terminal", "files")[n % 3])
        first.note(other, ORG, "exec")
        await eventually(lambda: _ready(first.recorded == 2), timeout=WAIT_SHORT, what="two events published")
        assert first.last_noted[ws] == start

        # a restarted agent knows nothing of the first one's throttle, but the id repeats
        clock.at += timedelta(seconds=30)
        restarted.note(ws, ORG, "cpu")
        await eventually(lambda: _ready(restarted.recorded == 1), timeout=WAIT_SHORT, what="the copy published")

        (msg,) = await activity_events(js, ws)
        env = decode_event(msg.data)
        assert isinstance(env, Envelope)
        assert env.data == WorkspaceActivityRecorded(workspace_id=ws, source="ide")
        assert env.org_id == ORG and env.stream_id == f"activity-{ws}"
        bucket = int(start.timestamp() // 60)
        assert env.event_id == event_id(activity_cause(ws, 60.0, bucket), "workspace.activity_recorded")

        # the next interval is another event
        clock.at += timedelta(seconds=60)
        first.note(ws, ORG, "port")
        await eventually(lambda: _ready(first.recorded == 3), timeout=WAIT_SHORT, what="the next interval's event")
        recorded = [decode_event(m.data).data for m in await activity_events(js, ws)]
        assert [e.source for e in recorded if isinstance(e, WorkspaceActivityRecorded)] == ["ide", "port"]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)


class FailingOnce:
    """An emitter whose first publish fails (NATS away for a moment)."""

    def __init__(self, real: Emitter) -> None:
        self.real = real
        self.clock = real.clock
        self.calls = 0

    async def emit(self, *args: object, **kwargs: object) -> uuid.UUID:
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("nats: timeout")
        return await self.real.emit(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_failed_publish_is_retried_at_the_next_note(js: JetStreamContext, host_id: str) -> None:
    clock = SettableClock(datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC))
    flaky = FailingOnce(Emitter(js, host_id, "system", clock, "test"))
    recorder = ActivityRecorder(flaky, ProvisionerSettings(host_id=host_id))  # type: ignore[arg-type]
    ws = uuid.uuid4()
    stop = asyncio.Event()
    task = asyncio.create_task(recorder.run(stop))
    try:
        recorder.note(ws, ORG, "ide")
        await eventually(lambda: _ready(flaky.calls == 1), timeout=WAIT_SHORT, what="the failed publish")
        await asyncio.sleep(0.05)
        assert recorder.recorded == 0
        recorder.note(ws, ORG, "terminal")  # same interval: tried again
        await eventually(lambda: _ready(recorder.recorded == 1), timeout=WAIT_SHORT, what="the retry")
        (msg,) = await activity_events(js, ws)
        assert decode_event(msg.data).data == WorkspaceActivityRecorded(workspace_id=ws, source="terminal")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def test_note_never_blocks_when_the_queue_is_full() -> None:
    clock = SettableClock(datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC))
    recorder = ActivityRecorder(
        Emitter(None, "h1", "system", clock, "test"),  # type: ignore[arg-type]  # never published
        ProvisionerSettings(host_id="h1"),
        queue_size=2,
    )
    for _ in range(3):
        for _ in range(5):
            recorder.note(uuid.uuid4(), ORG, "ide")
    assert recorder.dropped == 13


# ---------------------------------------------------------------- CPU watcher


@pytest.fixture
def runtime(podman_socket: str, host_id: str) -> Iterator[PodmanRuntime]:
    rt = PodmanRuntime(podman_socket, host_id)
    yield rt
    rt.close()


def watcher(runtime: PodmanRuntime, tmp_path: Path, notes: Notes, **overrides: object) -> CpuWatcher:
    fields: dict[str, object] = {
        "activity_cpu_interval_s": LOOK_S,
        "activity_cpu_threshold": 0.1,
        "activity_cpu_ignore": f"code-server,{IGNORED}",
        **overrides,
    }
    settings = ProvisionerSettings(
        host_id=runtime.host_id,
        podman_url=runtime.base_url,
        runtime_dir=str(tmp_path),
        **fields,  # type: ignore[arg-type]
    )
    return CpuWatcher(runtime, settings, WorkspaceDirs(str(tmp_path)), notes)


async def test_a_busy_process_is_work_within_two_looks_idle_and_ignored_ones_are_not(
    runtime: PodmanRuntime, podman_socket: str, host_id: str, base_image: str, tmp_path: Path
) -> None:
    busy, idle, ignored, unknown = [
        await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image, cpus=0.3) for _ in range(4)
    ]
    for ws in (busy, idle, ignored):
        write_run_meta(tmp_path, ws, ORG)
    # `unknown` has no init.json: no organization to record its activity for
    for ws in (busy, unknown):
        exec_detached(podman_socket, ws, BUSY)
    exec_detached(podman_socket, ignored, f"{BUSY} # {IGNORED}")
    notes = Notes()
    w = watcher(runtime, tmp_path, notes)
    assert await w.look() == []  # the first look only learns what each process used so far
    await asyncio.sleep(LOOK_S)
    assert await w.look() == [busy]
    await asyncio.sleep(LOOK_S)
    assert await w.look() == [busy]  # once per look while it works
    assert notes.got == [(busy, ORG, "cpu")] * 2


async def test_the_watch_loop_notes_work_started_while_it_watches(
    runtime: PodmanRuntime, podman_socket: str, host_id: str, base_image: str, tmp_path: Path
) -> None:
    ws = await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image, cpus=0.3)
    write_run_meta(tmp_path, ws, ORG)
    notes = Notes()
    stop = asyncio.Event()
    task = asyncio.create_task(watcher(runtime, tmp_path, notes).run(stop))
    try:
        await asyncio.sleep(LOOK_S / 2)
        assert notes.got == []
        exec_detached(podman_socket, ws, BUSY)
        await eventually(lambda: _ready(bool(notes.got)), timeout=2 * LOOK_S + 2, what="a cpu note")
        assert notes.got[0] == (ws, ORG, "cpu")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_process_started_between_two_looks_counts_from_zero(
    runtime: PodmanRuntime, podman_socket: str, host_id: str, base_image: str, tmp_path: Path
) -> None:
    ws = await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image, cpus=0.3)
    write_run_meta(tmp_path, ws, ORG)
    notes = Notes()
    w = watcher(runtime, tmp_path, notes)
    assert await w.look() == []
    await asyncio.sleep(LOOK_S)
    assert await w.look() == []  # idle: catatonit and sleep
    exec_detached(podman_socket, ws, BUSY)
    await asyncio.sleep(LOOK_S)
    assert await w.look() == [ws]
    assert notes.got == [(ws, ORG, "cpu")]


async def test_a_threshold_of_zero_turns_the_watcher_off(runtime: PodmanRuntime, tmp_path: Path) -> None:
    w = watcher(runtime, tmp_path, Notes(), activity_cpu_threshold=0.0)
    await asyncio.wait_for(w.run(asyncio.Event()), 1)
