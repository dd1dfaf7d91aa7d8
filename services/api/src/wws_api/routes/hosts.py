"""``/api/v1/hosts``: every host that ever registered, with live heartbeat data."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency

from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.hosts import HostRegistry
from wws_api.scheduler import Allocation, allocations
from wws_api.schemas import HostList, HostView
from wws_api.state import AppServices


class HostController(Controller):
    path = "/api/v1/hosts"
    tags = ["hosts"]

    @get("/", summary="List hosts", opt=policy("host.read", "org"))
    async def list_hosts(
        self, request: Request[Principal, Any, Any], services: NamedDependency[AppServices]
    ) -> HostList:
        """The organization's own hosts and the shared ones."""
        org = request.user.org_id
        registry: HostRegistry = services.registry
        rows = {r["host_id"]: r for r in await services.pool.fetch("SELECT * FROM api_hosts ORDER BY host_id")}
        used = await allocations(services.pool)
        ids = sorted(set(rows) | {b.host_id for b in registry.all()})
        items = []
        for host_id in ids:
            beat = registry.get(host_id)
            row: Any = rows.get(host_id)
            pool_org = beat.pool_org if beat else (row["pool_org"] if row else None)
            if pool_org is not None and pool_org != org:
                continue
            live = registry.is_live(host_id)
            alloc = used.get(host_id, Allocation())
            items.append(
                HostView(
                    id=host_id,
                    status="live" if live else ("lost" if row is None or row["status"] == "lost" else "registered"),
                    agent_version=beat.agent_version if beat else row["agent_version"],
                    runtime=beat.runtime if beat else row["runtime"],
                    capacity=msgspec.to_builtins(beat.capacity) if beat else msgspec.json.decode(row["capacity"]),
                    allocated={"cpu": alloc.cpu, "memory_mb": alloc.memory_mb, "disk_gb": alloc.disk_gb},
                    workspaces=len(beat.inventory) if beat else alloc.workspaces,
                    images=beat.images if beat else [],
                    address=beat.address if beat else row["address"],
                    last_heartbeat_at=beat.sent_at if beat else None,
                    registered_at=row["registered_at"] if row else None,
                    pool_org=pool_org,
                )
            )
        return HostList(items=items)
