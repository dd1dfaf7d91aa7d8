"""Read-model rows and decided states → HTTP views (one function builds every view)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wws_api.schemas import ErrorView, RepositoryView, ResourcesView, TemplateView, WorkspaceView
from wws_events import WorkspaceState
from wws_events.template import TemplateSpec

WORKSPACE_COLUMNS = "workspace_id, status, version, last_command_id, last_activity_at, state"

_state = msgspec.json.Decoder(WorkspaceState)
_tspec = msgspec.json.Decoder(TemplateSpec)


def workspace_view(row: Any) -> WorkspaceView:
    return state_view(_state.decode(row["state"]), row["last_activity_at"])


def state_view(state: WorkspaceState, last_activity_at: datetime | None = None) -> WorkspaceView:
    err = state.last_error
    spec = state.spec
    repo = spec.repository
    return WorkspaceView(
        id=state.workspace_id,
        name=state.name,
        org_id=state.org_id,
        owner_id=state.owner_id,
        status=state.status,
        host_id=state.host_id,
        image=state.image or spec.image,
        template=spec.template,
        template_version=spec.template_version,
        resources=ResourcesView(
            cpu=spec.resources.cpu, memory_mb=spec.resources.memory_mb, disk_gb=spec.resources.disk_gb
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
        ready=state.ready and state.status == "running",
        degraded=state.degraded,
        failed_steps=state.failed_steps,
        languages=spec.languages,
        ide=spec.ide,
        ide_port=state.ide_port,
        network=spec.network,
        repository=RepositoryView(
            url=repo.url,
            branch=repo.branch,
            create=msgspec.to_builtins(repo.create) if repo.create else None,
            has_credential=repo.credential is not None,
        )
        if repo
        else None,
        dotfiles=spec.dotfiles.url if spec.dotfiles else None,
        devcontainer=state.devcontainer,
        devcontainer_error=state.devcontainer_error,
        idle_timeout_s=spec.idle_timeout_s,
    )


def template_view(row: Any, image: str) -> TemplateView:
    spec = (
        _tspec.decode(row["spec"])
        if isinstance(row["spec"], (str, bytes))
        else msgspec.convert(row["spec"], TemplateSpec)
    )
    return template_spec_view(
        row["template_id"], row["name"], row["version"], spec, image, row["created_at"], row["updated_at"]
    )


def template_spec_view(
    template_id: Any, name: str, version: int, spec: TemplateSpec, image: str, created: datetime, updated: datetime
) -> TemplateView:
    r = spec.resources
    return TemplateView(
        id=template_id,
        name=name,
        version=version,
        description=spec.description,
        image=image,
        languages=spec.languages,
        ide=spec.ide,
        resources=ResourcesView(cpu=r.cpu, memory_mb=r.memory_mb, disk_gb=r.disk_gb),
        bootstrap=spec.bootstrap,
        idle_timeout_s=spec.idle_timeout_s,
        env=spec.env,
        ports=spec.ports,
        network=spec.network,
        created_at=created,
        updated_at=updated,
    )
