"""One human sentence per event for the audit view (the full payload is kept beside it)."""

from __future__ import annotations

from typing import assert_never

from wws_events import Envelope, RawEnvelope
from wws_events import host as h
from wws_events import workspace as w


def summarize(env: Envelope | RawEnvelope) -> str:
    if isinstance(env, RawEnvelope):
        return f"{env.type} (schema v{env.schema_version}, not known to this build)"
    d = env.data
    where = f" on {env.host_id}" if env.host_id else ""
    match d:
        case w.WorkspaceCreated():
            r = d.spec.resources
            return (
                f"created workspace {d.name!r} from {d.spec.image} ({r.cpu:g} CPU, {r.memory_mb} MiB, {r.disk_gb} GiB)"
            )
        case w.WorkspaceScheduled():
            return f"placed on host {d.host_id} ({d.reason})"
        case w.WorkspaceStopRequested():
            return "stop requested" + (f": {d.reason}" if d.reason else "")
        case w.WorkspaceRebuildRequested():
            return f"rebuild requested (generation {d.generation}, image {d.spec.image})"
        case w.WorkspaceStartRequested() | w.WorkspaceRestartRequested() | w.WorkspaceDeleteRequested():
            return env.type.removeprefix("workspace.").replace("_", " ")
        case w.WorkspaceOperationTimedOut():
            return f"{d.operation} timed out: {d.error.message}"
        case w.WorkspaceOperationStarted():
            return f"{d.operation} started{where}"
        case w.WorkspaceRestartStopped():
            return f"restart: stopped{where}"
        case w.WorkspaceCommandRejected():
            return f"order rejected{where}: {d.error.code}: {d.error.message}"
        case w.WorkspaceObserved():
            return f"host{where} observed the container {d.runtime_status}"
        case w.WorkspaceActivityRecorded():
            return f"activity ({d.source})"
        case h.HostRegistered():
            return f"host {d.host_id} registered (agent {d.agent_version}, {d.capacity.cpus:g} CPU, {d.capacity.memory_mb} MiB)"
        case h.HostLost():
            return f"host {d.host_id} lost (no heartbeat)"
        case h.HostOrphanRemoved():
            return f"removed orphan {d.resource} {d.name}: {d.reason}"
        case h.HostReconciled():
            return f"reconciled: {len(d.adopted)} adopted, {len(d.removed)} removed" + (
                "" if d.desired_known else " (desired state unknown)"
            )
        case w.Failed():
            return f"{env.type.removeprefix('workspace.').removesuffix('_failed')} failed{where}: {d.error.code}: {d.error.message}"
        case w.Succeeded():
            return f"{env.type.removeprefix('workspace.').removesuffix('_succeeded')} succeeded{where}"
        case _:
            assert_never(d)
