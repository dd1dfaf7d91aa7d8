"""One human sentence per event for the audit view (the full payload is kept beside it)."""

from __future__ import annotations

from typing import assert_never

from wws_events import Envelope, RawEnvelope
from wws_events import host as h
from wws_events import template as t
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
        case w.WorkspaceInitStepStarted():
            return f"init: {d.step} {d.name} started"
        case w.WorkspaceInitStepSucceeded():
            return f"init: {d.step} {d.name} done in {d.duration_ms} ms" + (f" ({d.detail})" if d.detail else "")
        case w.WorkspaceInitStepFailed():
            code = f" (exit {d.exit_code})" if d.exit_code is not None else ""
            return f"init: {d.step} {d.name} failed{code}: {d.message}"
        case w.WorkspaceInitFinished():
            return f"init finished in {d.duration_ms} ms" + (
                f", degraded: {', '.join(d.failed_steps)}" if d.degraded else ""
            )
        case w.WorkspaceDevcontainerApplied():
            extra = f"; not supported: {', '.join(d.unsupported)}" if d.unsupported else ""
            return f"devcontainer {d.source} applied" + (f" (image {d.image})" if d.image else "") + extra
        case w.WorkspaceDevcontainerInvalid():
            where = f" at line {d.line}, column {d.column}" if d.line else ""
            return f"devcontainer {d.source} not usable{where}: {d.message}"
        case t.TemplateCreated():
            return f"template {d.name!r} created (version {d.version})"
        case t.TemplateUpdated():
            return f"template updated to version {d.version}"
        case t.TemplateDeleted():
            return "template deleted"
        case w.Failed():
            return f"{env.type.removeprefix('workspace.').removesuffix('_failed')} failed{where}: {d.error.code}: {d.error.message}"
        case w.Succeeded():
            return f"{env.type.removeprefix('workspace.').removesuffix('_succeeded')} succeeded{where}"
        case _:
            assert_never(d)
