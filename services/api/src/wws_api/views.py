"""Read-model rows → HTTP views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wws_api.schemas import ErrorView, ResourcesView, WorkspaceView
from wws_events import WorkspaceState

WORKSPACE_COLUMNS = """workspace_id, org_id, name, owner_id, status, host_id, image, template, cpu, memory_mb, disk_gb,
    generation, version, container_id, last_command_id, last_operation, last_error, created_at, updated_at,
    status_changed_at, last_activity_at, position"""


def workspace_view(row: Any) -> WorkspaceView:
    err = row["last_error"]
    return WorkspaceView(
        id=row["workspace_id"],
        name=row["name"],
        org_id=row["org_id"],
        owner_id=row["owner_id"],
        status=row["status"],
        host_id=row["host_id"],
        image=row["image"],
        template=row["template"],
        resources=ResourcesView(cpu=row["cpu"], memory_mb=row["memory_mb"], disk_gb=row["disk_gb"]),
        generation=row["generation"],
        version=row["version"],
        container_id=row["container_id"],
        last_operation=row["last_operation"],
        last_command_id=row["last_command_id"],
        last_error=msgspec.json.decode(err, type=ErrorView) if err else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_changed_at=row["status_changed_at"],
        last_activity_at=row["last_activity_at"],
    )


def state_view(state: WorkspaceState, last_activity_at: datetime | None = None) -> WorkspaceView:
    """The view of a freshly decided state (the read model may not have it yet)."""
    err = state.last_error
    return WorkspaceView(
        id=state.workspace_id,
        name=state.name,
        org_id=state.org_id,
        owner_id=state.owner_id,
        status=state.status,
        host_id=state.host_id,
        image=state.spec.image,
        template=state.spec.template,
        resources=ResourcesView(
            cpu=state.spec.resources.cpu, memory_mb=state.spec.resources.memory_mb, disk_gb=state.spec.resources.disk_gb
        ),
        generation=state.generation,
        version=state.version,
        container_id=state.container_id,
        last_operation=state.last_operation,
        last_command_id=state.last_command_id,
        last_error=ErrorView(code=err.code, message=err.message, retryable=err.retryable) if err else None,
        created_at=state.created_at,
        updated_at=state.updated_at,
        status_changed_at=state.status_changed_at,
        last_activity_at=last_activity_at,
    )
