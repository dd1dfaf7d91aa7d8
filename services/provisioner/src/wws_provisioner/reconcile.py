"""Start-up (and periodic) reconcile: adopt this host's containers, report what differs
from the desired state, and remove orphans that no desired state wants.

Orphans are removed only when the control plane answered (``desired_known``) and the
resource is older than ``orphan_grace_s``: a container created a moment ago may belong
to an order the read model has not caught up with.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import nats
import structlog
from nats.aio.client import Client as NatsClient

from wws_events import subjects
from wws_events import workspace as w
from wws_events.host import DesiredStateReply, HostOrphanRemoved, HostReconciled
from wws_provisioner.emitter import Emitter
from wws_provisioner.runtime.base import WorkspaceRuntime
from wws_service.clock import Clock

log = structlog.get_logger("wws.agent.reconcile")
_reply = msgspec.json.Decoder(DesiredStateReply)


def _runtime_status(podman_status: str | None) -> Literal["running", "exited", "created", "missing"]:
    if podman_status is None:
        return "missing"
    if podman_status == "running":
        return "running"
    return "exited" if podman_status in ("exited", "stopped") else "created"


async def ask_desired(
    nc: NatsClient, host_id: str, *, attempts: int = 3, timeout: float = 5.0
) -> DesiredStateReply | None:
    for _ in range(attempts):
        try:
            msg = await nc.request(subjects.desired_state(host_id), b"", timeout=timeout)
            return _reply.decode(msg.data)
        except (nats.errors.TimeoutError, TimeoutError, nats.errors.NoRespondersError):
            continue
        except msgspec.DecodeError as exc:
            log.warning("reconcile.bad_reply", error=str(exc))
            return None
    return None


async def reconcile(
    nc: NatsClient,
    runtime: WorkspaceRuntime,
    emitter: Emitter,
    host_id: str,
    clock: Clock,
    *,
    grace_s: float,
    run_id: str,
) -> HostReconciled:
    containers = await runtime.inventory()
    volumes = await runtime.volumes()
    desired = await ask_desired(nc, host_id)
    now = clock.now()
    grace = timedelta(seconds=grace_s)
    wanted: dict[uuid.UUID, str] = {d.workspace_id: d.status for d in desired.workspaces} if desired else {}
    adopted = sorted({ct.workspace_id for ct in containers if desired is None or ct.workspace_id in wanted})
    removed: list[str] = []
    host_stream = f"host-{host_id}"

    def old(created: datetime | None) -> bool:
        return created is None or now - created > grace

    if desired is not None:
        vols = {v.workspace_id: v for v in volumes}
        cts = {ct.workspace_id: ct for ct in containers}
        for ws_id in sorted(set(cts) | set(vols)):
            ct, vol = cts.get(ws_id), vols.get(ws_id)
            if (
                ws_id in wanted
                or (ct is not None and not old(ct.created_at))
                or (vol is not None and not old(vol.created_at))
            ):
                continue
            if ct is not None:
                await runtime.remove(ws_id, 5)  # container and home volume
            elif vol is not None:
                await runtime.remove_volume(vol.name)
            for resource, name in (("container", ct.name if ct else None), ("volume", vol.name if vol else None)):
                if name is None:
                    continue
                removed.append(name)
                await emitter.emit(
                    HostOrphanRemoved(
                        host_id=host_id,
                        workspace_id=ws_id,
                        resource=resource,  # type: ignore[arg-type]
                        name=name,
                        reason="no desired state wants this workspace on this host",
                    ),
                    stream_id=host_stream,
                    cause=f"{run_id}:{name}",
                )
        by_ws = {ct.workspace_id: ct for ct in containers}
        for ws_id, status in wanted.items():
            found = by_ws.get(ws_id)
            seen = _runtime_status(found.status if found is not None else None)
            if status == "running" and seen != "running":
                await emitter.emit(
                    w.WorkspaceObserved(
                        container_id=found.container_id if found is not None else None,
                        runtime_status=seen,
                        generation=found.generation if found is not None else 0,
                    ),
                    stream_id=str(ws_id),
                    cause=f"{run_id}:{ws_id}",
                )
    summary = HostReconciled(host_id=host_id, adopted=adopted, removed=removed, desired_known=desired is not None)
    await emitter.emit(summary, stream_id=host_stream, cause=run_id)
    log.info("agent.reconciled", adopted=len(adopted), removed=removed, desired_known=desired is not None)
    return summary
