"""``/api/v1/workspaces``: lifecycle (202 + the decided state; ``?wait=`` to block)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent

from wws_api import errors, feed
from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.schemas import (
    ActivityAccepted,
    CreateWorkspace,
    RebuildWorkspace,
    ShareCreate,
    ShareExtend,
    WorkspaceList,
    WorkspaceView,
)
from wws_api.schemas_identity import GrantBody, GrantView
from wws_api.service import Outcome, WorkspaceService, fingerprint, parse_id
from wws_api.shares import ShareView
from wws_api.state import AppServices
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
        "/{workspace_id:str}/shares",
        status_code=201,
        summary="Share a port at a URL, for a while (level owner, org or public)",
        opt=policy("workspace.share", "workspace"),
    )
    async def share(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ShareCreate],
        services: NamedDependency[AppServices],
        workspace_id: FromPath[str],
    ) -> ShareView:
        ttl = data.expires_in_s or services.settings.share_default_ttl_s
        return await services.shares.create(
            request.user, parse_id(workspace_id), data.port, data.level, ttl, str(request.base_url)
        )

    @get(
        "/{workspace_id:str}/shares",
        summary="The workspace's live shared ports",
        opt=policy("workspace.read", "workspace"),
    )
    async def shares(
        self, request: Request[Principal, Any, Any], services: NamedDependency[AppServices], workspace_id: FromPath[str]
    ) -> list[ShareView]:
        return await services.shares.list(parse_id(workspace_id), str(request.base_url))

    @patch(
        "/{workspace_id:str}/shares/{share_id:str}",
        summary="Extend a shared port's lifetime",
        opt=policy("workspace.share", "workspace"),
    )
    async def extend_share(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ShareExtend],
        services: NamedDependency[AppServices],
        workspace_id: FromPath[str],
        share_id: FromPath[str],
    ) -> ShareView:
        return await services.shares.extend(
            request.user, parse_id(workspace_id), share_id, data.expires_in_s, str(request.base_url)
        )

    @delete(
        "/{workspace_id:str}/shares/{share_id:str}",
        summary="Stop sharing a port",
        opt=policy("workspace.share", "workspace"),
    )
    async def revoke_share(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[AppServices],
        workspace_id: FromPath[str],
        share_id: FromPath[str],
    ) -> None:
        await services.shares.revoke(request.user, parse_id(workspace_id), share_id)

    @get(
        "/{workspace_id:str}/events",
        summary="The workspace's events as Server-Sent Events (progress, warnings); resumable with Last-Event-ID",
        opt=policy("workspace.read", "workspace"),
    )
    async def events(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[AppServices],
        workspace_id: FromPath[str],
        after: Annotated[int, QueryParameter(ge=0, description="log position to continue after")] = 0,
    ) -> ServerSentEvent:
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isdigit() else after
        return ServerSentEvent(
            feed.stream(services.pool, services.waiter, services.clock, parse_id(workspace_id), start)
        )

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
