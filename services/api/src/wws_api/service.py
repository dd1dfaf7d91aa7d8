"""Workspace use cases behind the HTTP routes: decide + one transaction (events, host
order, idempotency record), then optionally wait on the read model."""

from __future__ import annotations

import base64
import builtins
import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from wws_api import errors, quota, specs
from wws_api.auth import Principal
from wws_api.fastpath import FastPath
from wws_api.readmodel import READ_MODEL
from wws_api.scheduler import Scheduler
from wws_api.schemas import ActivityAccepted, CreateWorkspace, WorkspaceList, WorkspaceView
from wws_api.schemas_identity import GrantView
from wws_api.settings import ApiSettings
from wws_api.templates import TemplateService
from wws_api.views import WORKSPACE_COLUMNS, state_view, workspace_view
from wws_api.waiter import ReadModelWaiter
from wws_authz import Resource, authorize
from wws_events import InvalidTransition, WorkspaceCommand, WorkspaceState, new_envelope
from wws_events import commands as c
from wws_events.ids import command_id as derive_command_id
from wws_events.ids import event_id
from wws_events.workspace import GrantLevel, WorkspaceActivityRecorded, WorkspaceSpec
from wws_service.clock import Clock
from wws_service.tracing import current_traceparent
from wws_store import eventstore, handler, projection, secrets
from wws_store.errors import ConcurrencyError
from wws_store.secrets import Keyring

_view = msgspec.json.Decoder(WorkspaceView)
_SLOW_OPS = (c.CreateWorkspace, c.ScheduleWorkspace, c.RebuildWorkspace)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    view: WorkspaceView
    replayed: bool = False


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{ident}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, _, ident = raw.partition("|")
        return datetime.fromisoformat(ts), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequestField("cursor", "not a cursor this API returned") from None


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise errors.NotFound("workspace", raw) from None


class WorkspaceService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: ApiSettings,
        scheduler: Scheduler,
        waiter: ReadModelWaiter,
        clock: Clock,
        fastpath: FastPath,
        templates: TemplateService,
        keyring: Keyring | None,
    ) -> None:
        self.fastpath = fastpath
        self.templates = templates
        self.keyring = keyring
        self.pool = pool
        self.settings = settings
        self.scheduler = scheduler
        self.waiter = waiter
        self.clock = clock

    # ------------------------------------------------------------------ reads

    async def get(self, principal: Principal, workspace_id: uuid.UUID) -> WorkspaceView:
        """One workspace of the caller's organizations (the access guard has decided who
        may see it; this keeps another organization's out even if a route forgot)."""
        row = await self.pool.fetchrow(
            f"SELECT {WORKSPACE_COLUMNS} FROM api_workspaces WHERE workspace_id = $1 AND org_id = ANY($2::text[])",  # noqa: S608
            workspace_id,
            list(principal.subject.roles),
        )
        if row is not None:
            return workspace_view(row)
        # Not projected yet (read-your-writes right after a create): the log is the truth.
        state = await handler.load(self.pool, workspace_id)
        if state is None or state.org_id not in principal.subject.roles:
            raise errors.NotFound("workspace", str(workspace_id))
        return state_view(state)

    async def list(
        self, principal: Principal, *, status: str | None, include_deleted: bool, limit: int, cursor: str | None
    ) -> WorkspaceList:
        after_ts, after_id = decode_cursor(cursor) if cursor else (None, None)
        org = principal.org_id
        sees_all = principal.subject.roles.get(org) in ("owner", "admin", "auditor")
        # members see their own workspaces and those shared with them or their teams; the
        # policy re-checks every row (the SQL only narrows)
        mine = [f"user:{principal.user_id}", *(f"team:{t}" for t in principal.subject.teams.get(org, ()))]
        rows = await self.pool.fetch(
            f"""SELECT {WORKSPACE_COLUMNS}, owner_id, created_at, state->'grants' AS grants FROM api_workspaces
                WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3 OR status <> 'deleted')
                  AND ($4::uuid IS NULL OR (created_at, workspace_id) > ($5::timestamptz, $4::uuid))
                  AND ($7 OR owner_id = $8 OR coalesce(state->'grants', '{{}}'::jsonb) ?| $9::text[])
                ORDER BY created_at, workspace_id LIMIT $6""",  # noqa: S608
            org,
            status,
            include_deleted,
            after_id,
            after_ts,
            limit + 1,
            sees_all,
            principal.user_id,
            mine,
        )

        def visible(r: Any) -> bool:
            grants = msgspec.json.decode(r["grants"]) if r["grants"] else {}
            res = Resource(
                type="workspace", org_id=org, id=str(r["workspace_id"]), owner_id=r["owner_id"], grants=grants
            )
            return authorize(principal.subject, "workspace.read", res).allowed

        items = [workspace_view(r) for r in rows[:limit] if visible(r)]
        nxt = None
        if len(rows) > limit:
            last = rows[limit - 1]
            nxt = encode_cursor(last["created_at"], last["workspace_id"])
        return WorkspaceList(items=items, next_cursor=nxt)

    # ------------------------------------------------------------------ writes

    async def create(
        self, principal: Principal, body: CreateWorkspace, *, key: str | None, request_hash: str
    ) -> Outcome:
        template = await self.templates.by_name(principal, body.template) if body.template else None
        spec = specs.workspace_spec(body, template, self.settings)
        token = body.repository.token if body.repository else None
        if token is not None and self.keyring is None:
            raise errors.BadRequestField(
                "repository/token", "this server keeps no secrets (WWS_API_SECRET_KEYS is not set)"
            )
        if body.host is not None:
            pool = await self.pool.fetchrow("SELECT pool_org FROM api_hosts WHERE host_id = $1", body.host)
            beat = self.scheduler.registry.get(body.host)
            pool_org = beat.pool_org if beat else (pool["pool_org"] if pool else None)
            if (pool is None and beat is None) or pool_org not in (None, principal.org_id):
                raise errors.UnknownHost(body.host)  # another organization's host is not one of ours
        cmd_id = self._command_id(principal, key)
        workspace_id = uuid.uuid5(cmd_id, "workspace") if key else uuid.uuid4()
        spot = await self.scheduler.place(spec.resources, spec.image, body.host, principal.org_id)
        command = c.CreateWorkspace(
            workspace_id=workspace_id,
            name=body.name,
            owner_id=principal.user_id,
            spec=spec,
            requested_host=body.host,
            placement=spot.host_id if spot else None,
            placement_reason=spot.reason if spot else "",
        )
        extra = None
        if token is not None:
            keyring = self.keyring
            assert keyring is not None

            async def extra(conn: Any) -> None:
                await secrets.put(conn, keyring, f"workspace:{workspace_id}", specs.CREDENTIAL, token)

        return await self._run(
            principal, workspace_id, command, cmd_id, key=key, request_hash=request_hash, extra=extra
        )

    async def command(
        self,
        principal: Principal,
        workspace_id: uuid.UUID,
        command: WorkspaceCommand,
        *,
        key: str | None,
        request_hash: str,
    ) -> Outcome:
        cmd_id = self._command_id(principal, key)
        extra = None
        if isinstance(command, c.DeleteWorkspace):

            async def extra(conn: Any) -> None:
                await secrets.delete_scope(conn, f"workspace:{workspace_id}")

        return await self._run(
            principal, workspace_id, command, cmd_id, key=key, request_hash=request_hash, extra=extra
        )

    def _command_id(self, principal: Principal, key: str | None) -> uuid.UUID:
        if key is None:
            return uuid.uuid4()
        return derive_command_id("idempotency", principal.actor.id, key)

    async def _run(
        self,
        principal: Principal,
        workspace_id: uuid.UUID,
        command: WorkspaceCommand,
        cmd_id: uuid.UUID,
        *,
        key: str | None,
        request_hash: str,
        extra: Callable[[Any], Awaitable[None]] | None = None,
    ) -> Outcome:
        now = self.clock.now()
        slow = isinstance(command, _SLOW_OPS)
        ctx = handler.CommandContext(
            command_id=cmd_id,
            actor=principal.actor,
            org_id=principal.org_id,
            now=now,
            deadline=now
            + timedelta(seconds=self.settings.provision_timeout_s if slow else self.settings.operation_timeout_s),
            traceparent=current_traceparent(),
        )
        for attempt in range(1, handler.MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    if key is not None:
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"idem:{principal.actor.id}:{key}"
                        )
                        prior = await conn.fetchrow(
                            "SELECT request_hash, status, response FROM wws_idempotency WHERE actor_id = $1 AND key = $2",
                            principal.actor.id,
                            key,
                        )
                        if prior is not None:
                            if prior["request_hash"] != request_hash:
                                raise errors.IdempotencyMismatch(key)
                            return Outcome(status=prior["status"], view=_view.decode(prior["response"]), replayed=True)
                    try:
                        result = await handler.execute_in(
                            conn,
                            workspace_id,
                            command,
                            ctx,
                            wake_relay=False,
                            org_id=frozenset(principal.subject.roles),
                            prepare=functools.partial(self._with_quota, conn, principal),
                        )
                    except InvalidTransition as exc:
                        raise errors.Conflict(str(exc), await self._current(conn, workspace_id)) from exc
                    assert result.state is not None
                    if extra is not None and not result.replayed:
                        await extra(conn)
                    await projection.apply_inline(conn, READ_MODEL, result.stored)
                    view = state_view(result.state)
                    if key is not None:
                        await conn.execute(
                            """INSERT INTO wws_idempotency (actor_id, key, request_hash, status, response)
                               VALUES ($1, $2, $3, 202, $4)""",
                            principal.actor.id,
                            key,
                            request_hash,
                            msgspec.json.encode(view),
                        )
                    outcome = Outcome(status=202, view=view, replayed=result.replayed)
                await self.fastpath.publish(result.orders)
                if result.stored and self.settings.read_your_writes_s > 0:
                    await self.waiter.wait_position(
                        "api_read_model", result.stored[-1].position, self.settings.read_your_writes_s
                    )
                return outcome
            except ConcurrencyError:
                if attempt == handler.MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _with_quota(
        self, conn: Any, principal: Principal, state: WorkspaceState | None, command: WorkspaceCommand
    ) -> WorkspaceCommand:
        """Create, start and rebuild carry the budgets of the organization and the owner."""
        match command:
            case c.CreateWorkspace():
                check = await quota.budgets(conn, principal.org_id, command.owner_id, command.workspace_id)
            case c.StartWorkspace() | c.RebuildWorkspace() if state is not None:
                check = await quota.budgets(conn, state.org_id, state.owner_id, state.workspace_id)
            case _:
                return command
        return msgspec.structs.replace(command, quota=check) if check is not None else command

    async def _current(self, conn: Any, workspace_id: uuid.UUID) -> dict[str, Any]:
        state: WorkspaceState | None = await handler.load(conn, workspace_id)
        return msgspec.to_builtins(state_view(state)) if state else {}

    async def wait(self, outcome: Outcome, target: str, timeout: float) -> Outcome:
        """Block until the workspace reaches ``target`` (200), fails (502), or ``timeout``
        passes (202 with the state as it is)."""
        ws = outcome.view
        mine = ws.last_command_id

        def settled(row: Any) -> bool:
            if row is None:
                return False
            if row["version"] < ws.version:
                return False  # the read model has not seen our own events yet
            return row["status"] == target or row["status"] in ("failed", "deleted") or row["last_command_id"] != mine

        row = await self.waiter.wait_for(
            ws.id,
            f"SELECT {WORKSPACE_COLUMNS} FROM api_workspaces WHERE workspace_id = $1",  # noqa: S608
            settled,
            timeout,
        )
        if row is None or row["version"] < ws.version:
            return Outcome(status=202, view=ws)
        view = workspace_view(row)
        if view.status == target:
            return Outcome(status=200, view=view)
        if view.status == "failed" and view.last_command_id == mine:
            err = view.last_error
            why = f"{err.code}: {err.message}" if err else "unknown reason"
            raise errors.OperationFailed(f"{view.last_operation} failed: {why}", msgspec.to_builtins(view))
        return Outcome(status=202, view=view)

    async def rebuild_spec(
        self, principal: Principal, workspace_id: uuid.UUID, image: str | None, template_version: int | str | None
    ) -> WorkspaceSpec | None:
        """The spec a rebuild moves to: a new image, or a version of the workspace's template."""
        if image is None and template_version is None:
            return None
        state = await handler.load(self.pool, workspace_id)
        if state is None or state.org_id not in principal.subject.roles:
            raise errors.NotFound("workspace", str(workspace_id))
        if image is not None:
            if template_version is not None:
                raise errors.BadRequestField("image", "give an image or a template_version, not both")
            return msgspec.structs.replace(state.spec, image=image, languages=[])
        if state.spec.template_id is None:
            raise errors.BadRequestField("template_version", "this workspace was not created from a template")
        current = await self.templates.resolve(principal, state.spec.template_id, org_id=state.org_id)
        if template_version == "latest" or template_version == current.version:
            target = current
        else:
            assert isinstance(template_version, int)
            found = await self.templates.version_spec(current.template_id, template_version)
            if found is None:
                raise errors.BadRequestField("template_version", f"the template has no version {template_version}")
            target = found
        return specs.rebased(state.spec, target)

    async def grants(self, principal: Principal, workspace_id: uuid.UUID) -> builtins.list[GrantView]:
        state = await handler.load(self.pool, workspace_id)
        if state is None or state.org_id not in principal.subject.roles:
            raise errors.NotFound("workspace", str(workspace_id))
        return [GrantView(subject=k, level=v) for k, v in sorted(state.grants.items())]

    async def grant(
        self, principal: Principal, workspace_id: uuid.UUID, subject: str, level: GrantLevel | None
    ) -> builtins.list[GrantView]:
        """Grant (or with ``level`` None revoke) access for ``user:<id>`` or ``team:<id or name>``
        of the workspace's organization."""
        state = await handler.load(self.pool, workspace_id)
        if state is None or state.org_id not in principal.subject.roles:
            raise errors.NotFound("workspace", str(workspace_id))
        kind, _, ident = subject.partition(":")
        if kind == "user":
            if not await self.pool.fetchval(
                "SELECT 1 FROM id_members WHERE org_id = $1 AND user_id = $2", state.org_id, ident
            ):
                raise errors.BadRequestField("subject", f"user {ident!r} is not a member of the organization")
            if ident == state.owner_id:
                raise errors.BadRequestField("subject", "the owner needs no grant")
        elif kind == "team":
            team = await self.pool.fetchval(
                "SELECT team_id FROM id_teams WHERE org_id = $1 AND (team_id = $2 OR name = $2)", state.org_id, ident
            )
            if team is None:
                raise errors.BadRequestField("subject", f"no team {ident!r} in the organization")
            subject = f"team:{team}"
        else:
            raise errors.BadRequestField("subject", "user:<id> or team:<id or name>")
        command: WorkspaceCommand = (
            c.GrantWorkspaceAccess(subject=subject, level=level)
            if level is not None
            else c.RevokeWorkspaceAccess(subject=subject)
        )
        await self._run(principal, workspace_id, command, uuid.uuid4(), key=None, request_hash="")
        return await self.grants(principal, workspace_id)

    async def activity(self, principal: Principal, workspace_id: uuid.UUID, source: str) -> ActivityAccepted:
        ws = await self.get(principal, workspace_id)
        if ws.status != "running":
            raise errors.Conflict(f"workspace is {ws.status}, not running", msgspec.to_builtins(ws))
        now = self.clock.now()
        interval = self.settings.activity_interval_s
        if ws.last_activity_at is not None and now - ws.last_activity_at < timedelta(seconds=interval):
            return ActivityAccepted(recorded=False, last_activity_at=ws.last_activity_at)
        bucket = int(now.timestamp() // interval)  # concurrent reports in one interval share one event id
        env = new_envelope(
            WorkspaceActivityRecorded(workspace_id=workspace_id, source=source),
            event_id=event_id(f"activity:{workspace_id}:{interval}:{bucket}", "workspace.activity_recorded"),
            stream_id=f"activity-{workspace_id}",
            occurred_at=now,
            org_id=ws.org_id,
            actor=principal.actor,
            correlation_id=uuid.uuid4(),
            traceparent=current_traceparent(),
        )
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await eventstore.append(conn, [env])
            await projection.apply_inline(conn, READ_MODEL, stored)
        return ActivityAccepted(recorded=bool(stored), last_activity_at=now)
