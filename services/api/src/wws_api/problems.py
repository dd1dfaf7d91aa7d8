"""The one table from errors to RFC 9457 problems (``application/problem+json``).

``type`` is a relative URI that this API serves (``GET /api/v1/problems/<slug>``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from wws_api import errors as e
from wws_api.access import RateLimited
from wws_events import InvalidTransition, WorkspaceExists, WorkspaceNotFound
from wws_events import identity as i
from wws_events import org as o
from wws_events.aggregate import ShareInvalid, ShareNotFound
from wws_events.quota import QuotaExceeded
from wws_service.tracing import current_traceparent
from wws_store.errors import ConcurrencyError, NameTaken

log = structlog.get_logger("wws.api")
PROBLEM_JSON = "application/problem+json"


class ProblemType(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    status: int
    title: str
    description: str


TYPES: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType(
            slug="validation-error",
            status=422,
            title="Request is not valid",
            description="One or more fields are missing, malformed or out of range; see `errors`.",
        ),
        ProblemType(
            slug="malformed-request",
            status=400,
            title="Request body is not valid JSON",
            description="The body could not be parsed.",
        ),
        ProblemType(
            slug="not-found",
            status=404,
            title="Not found",
            description="No such resource, or it is not visible to you.",
        ),
        ProblemType(
            slug="invalid-transition",
            status=409,
            title="Workspace is in a conflicting state",
            description="The operation is not allowed in the workspace's current state; `workspace` shows it.",
        ),
        ProblemType(
            slug="name-taken",
            status=409,
            title="Name already in use",
            description="Another live workspace in the organization has this name.",
        ),
        ProblemType(
            slug="concurrent-modification",
            status=409,
            title="Concurrent modification",
            description="The workspace changed while the request was decided; retry.",
        ),
        ProblemType(
            slug="idempotency-key-reused",
            status=422,
            title="Idempotency-Key reused",
            description="The key was already used with a different request.",
        ),
        ProblemType(
            slug="operation-failed",
            status=502,
            title="Workspace operation failed",
            description="The host reported a failure for the operation that was waited for; see `workspace.last_error`.",
        ),
        ProblemType(
            slug="unauthorized",
            status=401,
            title="Not authenticated",
            description="Send `Authorization: Bearer <token>`.",
        ),
        ProblemType(slug="forbidden", status=403, title="Forbidden", description="You may not do this."),
        ProblemType(
            slug="method-not-allowed",
            status=405,
            title="Method not allowed",
            description="The resource exists but does not support this method.",
        ),
        ProblemType(
            slug="quota-exceeded",
            status=403,
            title="Quota exceeded",
            description="The operation would take the organization or the user over a limit an admin set; "
            "`scope`, `dimension`, `limit` and `would_be` say which. Stop or delete something, or ask for more.",
        ),
        ProblemType(
            slug="rate-limited",
            status=429,
            title="Too many requests",
            description="Too many lifecycle operations in a short time; retry after `Retry-After` seconds.",
        ),
        ProblemType(
            slug="conflict",
            status=409,
            title="Conflict",
            description="The change contradicts the resource's current state or a rule (e.g. an organization keeps an owner).",
        ),
        ProblemType(
            slug="invitation-unusable",
            status=410,
            title="Invitation no longer usable",
            description="The invitation expired, was revoked, or was already answered.",
        ),
        ProblemType(
            slug="login-failed",
            status=400,
            title="Login failed",
            description="The identity provider's answer could not be used (state, code, or ID token); start again.",
        ),
        ProblemType(
            slug="internal",
            status=500,
            title="Internal error",
            description="Something failed inside WWS; the request id is in the logs.",
        ),
    )
}


def problem(
    request: Request[Any, Any, Any], slug: str, detail: str | None, status: int | None = None, **extra: Any
) -> Response[Any]:
    kind = TYPES[slug]
    body: dict[str, Any] = {
        "type": f"/api/v1/problems/{slug}",
        "title": kind.title,
        "status": status or kind.status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if tp := current_traceparent():
        body["trace_id"] = tp.split("-")[1]
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="wws"'} if body["status"] == 401 else None
    return Response(content=body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


HINTS = {
    "#/name": "lowercase letters, digits and '-', starting with a letter, at most 63 characters",
    "#/image": "an image reference such as localhost/wws-base:bookworm",
    "#/host": "a host id: lowercase letters, digits, '-' and '_'",
    "#/template": "a template name: lowercase letters, digits, '-' and '_'",
}
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`")


def _pointer(path: str) -> str:
    """msgspec's ``$.a[0].b`` → JSON Pointer ``#/a/0/b``."""
    parts = [p for p in re.split(r"\.|\[|\]", path) if p]
    return "#/" + "/".join(parts)


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors: list[dict[str, str]] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        source, key = item.get("source"), item.get("key")
        if m := _AT.search(message):
            pointer = _pointer(m.group("path"))
            message = message[: m.start()]
        elif key:
            pointer = _pointer(f".{key}") if source in (None, "body") else f"{source}:{key}"
        else:
            pointer = "#"
        if "unknown field" in message or "missing required field" in message:
            pointer = (
                pointer.rstrip("/") + "/" + message.split("`")[1]
                if pointer.startswith("#/") and pointer != "#/data"
                else "#/" + message.split("`")[1]
            )
        if "matching regex" in message and pointer in HINTS:
            message = f"{message} ({HINTS[pointer]})"
        errors.append({"detail": message, "pointer": pointer})
    if any("malformed" in x["detail"].lower() or "truncated" in x["detail"].lower() for x in errors):
        return problem(request, "malformed-request", errors[0]["detail"])
    detail = "; ".join(f"{x['pointer'].removeprefix('#/') or 'body'}: {x['detail']}" for x in errors) or str(exc.detail)
    return problem(request, "validation-error", detail, errors=errors)


def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The single exception handler registered for ``Exception``."""
    match exc:
        case ValidationException():
            return _validation(request, exc)
        case e.BadRequestField():
            return problem(
                request, "validation-error", str(exc), errors=[{"detail": exc.message, "pointer": f"#/{exc.field}"}]
            )
        case e.NotFound() | WorkspaceNotFound():
            return problem(request, "not-found", str(exc))
        case e.Conflict():
            return problem(request, "invalid-transition", str(exc), workspace=exc.workspace)
        case InvalidTransition() | WorkspaceExists():
            return problem(request, "invalid-transition", str(exc))
        case NameTaken():
            return problem(request, "name-taken", str(exc), errors=[{"detail": str(exc), "pointer": "#/name"}])
        case ConcurrencyError():
            return problem(request, "concurrent-modification", str(exc))
        case e.IdempotencyMismatch():
            return problem(request, "idempotency-key-reused", str(exc))
        case e.OperationFailed():
            return problem(request, "operation-failed", str(exc), workspace=exc.workspace)
        case QuotaExceeded():
            return problem(
                request,
                "quota-exceeded",
                str(exc),
                scope=exc.scope,
                dimension=exc.dimension,
                limit=exc.limit,
                would_be=exc.would_be,
            )
        case RateLimited():
            response = problem(request, "rate-limited", str(exc), retry_after=math.ceil(exc.retry_after))
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
            return response
        case ShareNotFound():
            return problem(request, "not-found", str(exc))
        case ShareInvalid():
            return problem(
                request, "validation-error", str(exc), errors=[{"detail": str(exc), "pointer": f"#/{exc.field}"}]
            )
        case i.UserNotFound() | o.OrgNotFound() | o.OrgItemNotFound():
            return problem(request, "not-found", str(exc))
        case i.UserInvalid():
            return problem(
                request, "validation-error", str(exc), errors=[{"detail": str(exc), "pointer": f"#/{exc.field}"}]
            )
        case i.UserConflict() | o.OrgConflict():
            return problem(request, "conflict", str(exc))
        case o.OrgForbidden():
            return problem(request, "forbidden", str(exc))
        case o.InvitationUnusable():
            return problem(request, "invitation-unusable", str(exc))
        case e.LoginFailed():
            return problem(request, "login-failed", str(exc))
        case HTTPException():
            slug = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}.get(
                exc.status_code, "validation-error" if exc.status_code < 500 else "internal"
            )
            return problem(request, slug, exc.detail, status=exc.status_code)
        case _:
            log.exception("api.unhandled", path=request.url.path, exc_info=exc)
            return problem(request, "internal", None)


__all__ = ["PROBLEM_JSON", "TYPES", "MediaType", "handle", "problem"]
