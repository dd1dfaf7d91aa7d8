"""``/api/v1/workspaces``: lifecycle (202 + the decided state; ``?wait=`` to block)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from wws_api import errors
from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.schemas import ActivityAccepted, CreateWorkspace, RebuildWorkspace, WorkspaceList, WorkspaceView
from wws_api.schemas_identity import GrantBody, GrantView
from wws_api.service import Outcome, WorkspaceService, fingerprint, parse_id
from wws_events import WorkspaceCommand
from wws_events import commands as c

WaitTarget = Literal["running", "stopped", "deleted"]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe key: the same key with the same request gives the same answer and no second effect.",
    ),
]
Wait = Annotated[
    WaitTarget | None,
    QueryParameter(
        description="Block until the workspace reaches this state (200), fails (502) or the wait times out (202)."
    ),
]
WaitTimeout = Annotated[float, QueryParameter(gt=0, description="Seconds to wait at most (capped by the server).")]


def _reply(request: Request[Any, Any, Any], outcome: Outcome) -> Response[WorkspaceView]:
    headers = {"Location": f"/api/v1/workspaces/{outcome.view.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(outcome.view, status_code=outcome.status, headers=headers)


class WorkspaceController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspaces"]

    @post("/", status_code=202, summary="Create a workspace", opt=policy("workspace.create", "org"))
    async def create(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[CreateWorkspace],
        workspaces: NamedDependency[WorkspaceService],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
    ) -> Response[WorkspaceView]:
        outcome = await workspaces.create(
            request.user,
            data,
            key=idempotency_key,
            request_hash=fingerprint("POST", request.url.path, await request.body()),
        )
        if wait:
            outcome = await workspaces.wait(outcome, wait, min(wait_timeout, workspaces.settings.wait_timeout_max_s))
        return _reply(request, outcome)

    @get("/", summary="List workspaces (those you may see)", opt=policy("workspace.list", "org"))
    async def list_workspaces(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        status: FromQuery[str | None] = None,
        include_deleted: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        cursor: FromQuery[str | None] = None,
    ) -> WorkspaceList:
        return await workspaces.list(
            request.user, status=status, include_deleted=include_deleted, limit=limit, cursor=cursor
        )

    @get("/{workspace_id:str}", summary="Get a workspace", opt=policy("workspace.read", "workspace"))
    async def get_workspace(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
    ) -> WorkspaceView:
        return await workspaces.get(request.user, parse_id(workspace_id))

    async def _command(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        command: WorkspaceCommand,
        key: str | None,
        wait: str | None,
        wait_timeout: float,
    ) -> Response[WorkspaceView]:
        outcome = await workspaces.command(
            request.user,
            parse_id(workspace_id),
            command,
            key=key,
            request_hash=fingerprint(request.method, request.url.path, await request.body()),
        )
        if wait:
            outcome = await workspaces.wait(outcome, wait, min(wait_timeout, workspaces.settings.wait_timeout_max_s))
        return _reply(request, outcome)

    @post(
        "/{workspace_id:str}/start",
        status_code=202,
        summary="Start a stopped or failed workspace",
        opt=policy("workspace.start", "workspace"),
    )
    async def start(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
    ) -> Response[WorkspaceView]:
        return await self._command(
            request, workspaces, workspace_id, c.StartWorkspace(), idempotency_key, wait, wait_timeout
        )

    @post(
        "/{workspace_id:str}/stop",
        status_code=202,
        summary="Stop a running workspace (?force=true: no grace period)",
        opt=policy("workspace.stop", "workspace"),
    )
    async def stop(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
        force: Annotated[
            bool, QueryParameter(description="Kill at once, no grace period (admins' force-stop)")
        ] = False,
    ) -> Response[WorkspaceView]:
        principal = request.user
        ws = await workspaces.get(principal, parse_id(workspace_id))
        reason = None
        if ws.owner_id != principal.user_id:
            reason = f"{'force-' if force else ''}stopped by {principal.actor.display or principal.user_id}"
        command = c.StopWorkspace(reason=reason, force=force)
        return await self._command(request, workspaces, workspace_id, command, idempotency_key, wait, wait_timeout)

    @post(
        "/{workspace_id:str}/restart",
        status_code=202,
        summary="Restart a running workspace (stop + start)",
        opt=policy("workspace.restart", "workspace"),
    )
    async def restart(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
    ) -> Response[WorkspaceView]:
        return await self._command(
            request, workspaces, workspace_id, c.RestartWorkspace(), idempotency_key, wait, wait_timeout
        )

    @post(
        "/{workspace_id:str}/rebuild",
        status_code=202,
        summary="Rebuild: a new container (optionally from a new image), same persistent home",
        opt=policy("workspace.rebuild", "workspace"),
    )
    async def rebuild(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
    ) -> Response[WorkspaceView]:
        raw = await request.body()
        body = RebuildWorkspace()
        if raw.strip():
            try:
                body = msgspec.json.decode(raw, type=RebuildWorkspace)
            except msgspec.ValidationError as exc:
                field = str(exc).rpartition("$.")[2].rstrip("`") or "body"
                raise errors.BadRequestField(field, str(exc).split(" - at")[0]) from exc
            except msgspec.DecodeError as exc:
                raise errors.BadRequestField("body", f"not valid JSON: {exc}") from exc
        spec = await workspaces.rebuild_spec(request.user, parse_id(workspace_id), body.image, body.template_version)
        return await self._command(
            request, workspaces, workspace_id, c.RebuildWorkspace(spec=spec), idempotency_key, wait, wait_timeout
        )

    @delete(
        "/{workspace_id:str}",
        status_code=202,
        summary="Delete a workspace and its persistent home",
        opt=policy("workspace.delete", "workspace"),
    )
    async def delete_workspace(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
        wait_timeout: WaitTimeout = 120.0,
    ) -> Response[WorkspaceView]:
        return await self._command(
            request, workspaces, workspace_id, c.DeleteWorkspace(), idempotency_key, wait, wait_timeout
        )

    @get(
        "/{workspace_id:str}/access",
        summary="Who else may use or manage the workspace",
        opt=policy("workspace.read", "workspace"),
    )
    async def access(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
    ) -> list[GrantView]:
        return await workspaces.grants(request.user, parse_id(workspace_id))

    @put(
        "/{workspace_id:str}/access/{subject:str}",
        summary="Share: grant user:<id> or team:<id|name> use or manage",
        opt=policy("workspace.share", "workspace"),
    )
    async def grant(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[GrantBody],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        subject: FromPath[str],
    ) -> list[GrantView]:
        return await workspaces.grant(request.user, parse_id(workspace_id), subject, data.level)

    @delete(
        "/{workspace_id:str}/access/{subject:str}",
        summary="Stop sharing with a user or team",
        opt=policy("workspace.share", "workspace"),
        status_code=200,
    )
    async def revoke(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        subject: FromPath[str],
    ) -> list[GrantView]:
        return await workspaces.grant(request.user, parse_id(workspace_id), subject, None)

    @post(
        "/{workspace_id:str}/activity",
        status_code=202,
        summary="Report that someone is working in the workspace",
        opt=policy("workspace.activity", "workspace"),
    )
    async def activity(
        self,
        request: Request[Principal, Any, Any],
        workspaces: NamedDependency[WorkspaceService],
        workspace_id: FromPath[str],
        source: Annotated[str, QueryParameter(pattern=r"^[a-z][a-z0-9_.-]{0,31}$")] = "api",
    ) -> ActivityAccepted:
        return await workspaces.activity(request.user, parse_id(workspace_id), source)
