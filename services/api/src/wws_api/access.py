"""The access guard: every route declares ``opt=policy(action, resource)``; before the
handler runs, the guard loads the resource's attributes, asks ``wws_authz.authorize``,
records a refusal as an ``access.denied`` event, and applies the per-user rate limit.

A route without a declaration cannot be served: ``check_routes`` refuses to build the
app, and the authorization-matrix test enumerates the same table.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from wws_api import errors
from wws_api.auth import Principal
from wws_authz import Action, Decision, Resource, authorize
from wws_events import encode, new_envelope
from wws_events.identity import AccessDenied
from wws_store import eventstore

log = structlog.get_logger("wws.api.access")
ResourceKind = Literal["public", "instance", "self", "org", "workspace"]
LIFECYCLE: frozenset[str] = frozenset(
    {
        "workspace.create",
        "workspace.start",
        "workspace.stop",
        "workspace.restart",
        "workspace.rebuild",
        "workspace.delete",
    }
)


WORKSPACE_ROW = "wws_workspace_row"


def policy(action: Action | None, resource: ResourceKind) -> dict[str, Any]:
    """The ``opt`` of a route: what it does, to what (``public``: no authentication)."""
    return {"policy": {"action": action, "resource": resource}}


PUBLIC = policy(None, "public")


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many lifecycle operations; retry in {retry_after:.0f} s")


async def _resource(
    connection: ASGIConnection[Any, Any, Any, Any], kind: ResourceKind, principal: Principal
) -> Resource:
    services = connection.app.state.services
    if kind == "instance":
        return Resource(type="instance", open_org_creation=services.settings.org_creation == "anyone")
    if kind == "self":
        return Resource(type="self", id=principal.user_id)
    if kind == "org":
        ident = connection.path_params.get("org")
        if ident is None:
            return Resource(type="org", org_id=principal.org_id, id=principal.org_id)
        org_id = await services.identity.resolve_org(services.pool, str(ident))
        if org_id is None:
            raise errors.NotFound("organization", str(ident))
        return Resource(type="org", org_id=org_id, id=org_id)
    raw = str(connection.path_params.get("workspace_id", ""))
    try:
        ws = uuid.UUID(raw)
    except ValueError:
        raise errors.NotFound("workspace", raw) from None
    row = await services.pool.fetchrow(
        """SELECT org_id, owner_id, state->'grants' AS grants, status, state->>'host_id' AS host_id
           FROM api_workspaces WHERE workspace_id = $1 AND status <> 'deleted'""",
        ws,
    )
    if row is None:
        raise errors.NotFound("workspace", raw)
    # the proxy routes need where it runs: one read serves both
    connection.scope[WORKSPACE_ROW] = row  # type: ignore[literal-required]
    grants = msgspec.json.decode(row["grants"]) if row["grants"] else {}
    return Resource(type="workspace", org_id=row["org_id"], id=raw, owner_id=row["owner_id"], grants=grants)


async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    rule = handler.opt.get("policy")
    if rule is None:
        if _ours(handler):  # check_routes makes this unreachable; refuse rather than serve
            raise PermissionDeniedException("this route has no access policy")
        return  # Litestar's own: automatic OPTIONS answers, the OpenAPI document and UI
    if rule["resource"] == "public":
        return
    principal: Principal | None = connection.scope.get("user")
    if principal is None:
        raise NotAuthorizedException("authentication required (Authorization: Bearer <token>, or log in)")
    action: Action = rule["action"]
    resource = await _resource(connection, rule["resource"], principal)
    decision = authorize(principal.subject, action, resource)
    if not decision.allowed:
        await record_denial(connection, principal, action, resource, decision)
        if decision.hidden:
            raise NotFoundException(f"{resource.type} not found")
        raise PermissionDeniedException(decision.why)
    if action in LIFECYCLE and principal.auth.via != "bootstrap":
        services = connection.app.state.services
        wait = await services.rate_limits.take(f"lifecycle:{principal.user_id}")
        if wait > 0:
            raise RateLimited(wait)


async def record_denial(
    connection: ASGIConnection[Any, Any, Any, Any],
    principal: Principal,
    action: str,
    resource: Resource,
    decision: Decision,
) -> None:
    """``access.denied`` on the stream ``access-<user>`` (no concurrency control: each
    refusal is its own fact). Recording must not turn a 403 into a 500."""
    services = connection.app.state.services
    now = services.clock.now()
    event_id = uuid.uuid4()
    env = new_envelope(
        AccessDenied(
            action=action,
            resource_type=resource.type,
            resource_id=resource.id,
            resource_org=resource.org_id,
            method=str(connection.scope.get("method", "")),
            path=connection.url.path[:500],
            why=decision.why,
        ),
        event_id=event_id,
        stream_id=f"access-{principal.user_id}",
        occurred_at=now,
        org_id=resource.org_id
        if resource.org_id and resource.org_id in principal.subject.roles
        else principal.org_id or "instance",
        actor=principal.actor,
        correlation_id=event_id,
    )
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await eventstore.append(conn, [env])
    except Exception:
        log.exception("access.denial_not_recorded", action=action, size=len(encode(env)))


def _ours(handler: BaseRouteHandler) -> bool:
    return str(getattr(handler.fn, "__module__", "")).startswith("wws_api")


def check_routes(handlers: list[BaseRouteHandler]) -> None:
    """Every route handler of WWS declares a policy (a new route without one fails at start)."""
    missing = [
        f"{sorted(getattr(h, 'http_methods', []))} {h.paths}" for h in handlers if _ours(h) and "policy" not in h.opt
    ]
    if missing:
        raise RuntimeError(f"routes without an access policy: {missing}")
