"""Into a workspace: the IDE, a port, a terminal, exec, files, metrics (proxied to the
gateway of the host that runs it), share links and signed file links.

HTTP handlers return a raw ASGI app (Litestar calls it with the request's own scope,
receive and send), so bodies stream through untouched and nothing is buffered; WebSocket
handlers hand their connection to the proxy. The access guard has run before either
(``opt``). Paths go upstream as the client sent them (``raw_path``, still percent-encoded).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import msgspec
from litestar import Request, WebSocket, post, route, websocket
from litestar.params import FromPath, JSONBody
from litestar.types import ASGIApp, Receive, Scope, Send

from wws_api import errors, filelinks
from wws_api.access import PUBLIC, policy
from wws_api.auth import Principal
from wws_api.reach import Reach
from wws_authz import Resource, authorize
from wws_proxy import deny_websocket, send_problem

HTTP_METHODS: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE"]] = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SANDBOX = (
    b"content-security-policy",
    b"sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-pointer-lock",
)
"""A shared port's pages run on the API's origin when routing is path-based: sandboxed
(an opaque origin), their scripts cannot use a visitor's WWS session."""
WS = "/api/v1/workspaces/{workspace_id:str}"


def _paths(tail: str) -> list[str]:
    return [f"{WS}/{tail}", f"{WS}/{tail}/{{rest:path}}"]


def _sandboxed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [*(h for h in headers if h[0].lower() != SANDBOX[0]), SANDBOX]


def _rest(scope: Any, prefix: str) -> str:
    """What follows ``prefix`` in the path as sent (percent-encoding kept)."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    at = raw.find(prefix)
    return raw[at + len(prefix) :] if at >= 0 else ""


def _reach(conn: Request[Any, Any, Any] | WebSocket[Any, Any, Any]) -> Reach:
    return conn.app.state.services.reach  # type: ignore[no-any-return]


def _parse(workspace_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(workspace_id)
    except ValueError:
        raise errors.NotFound("workspace", workspace_id) from None


def _http(
    request: Request[Any, Any, Any],
    *,
    workspace_id: uuid.UUID,
    subject: str,
    scope_name: str,
    path: str,
    ip: str | None,
    sandbox: bool = False,
    query: bytes | None = None,
) -> ASGIApp:
    reach = _reach(request)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw: dict[str, Any] = dict(scope)
        if query is not None:
            raw["query_string"] = query
        await reach.http(
            raw,
            receive,
            send,
            workspace_id=workspace_id,
            subject=subject,
            scope_name=scope_name,
            path=path,
            client_ip=ip,
            response_headers=_sandboxed if sandbox else None,
        )

    return app


async def _ws(
    socket: WebSocket[Any, Any, Any],
    *,
    workspace_id: uuid.UUID,
    subject: str,
    scope_name: str,
    path: str,
    ip: str | None,
) -> None:
    await _reach(socket).websocket(
        dict(socket.scope),
        socket.receive,
        socket.send,
        workspace_id=workspace_id,
        subject=subject,
        scope_name=scope_name,
        path=path,
        client_ip=ip,
    )


def _slash(request: Request[Any, Any, Any], prefix: str) -> ASGIApp | None:
    """``…/ide`` → ``…/ide/``: an app's relative links need the trailing slash."""
    if _rest(request.scope, prefix):
        return None
    query = request.scope.get("query_string", b"")
    location = bytes(request.scope.get("raw_path") or b"") + b"/" + (b"?" + query if query else b"")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


# ---------------------------------------------------------------- IDE and ports


@route(_paths("ide"), http_method=HTTP_METHODS, opt=policy("workspace.use", "workspace"), include_in_schema=False)
async def ide(request: Request[Principal, Any, Any], workspace_id: FromPath[str]) -> ASGIApp:
    ws = _parse(workspace_id)
    prefix = f"/workspaces/{workspace_id}/ide"
    return _slash(request, prefix) or _http(
        request,
        workspace_id=ws,
        subject=f"user:{request.user.user_id}",
        scope_name="ide",
        path="ide" + _rest(request.scope, prefix),
        ip=request.user.actor.ip,
    )


@websocket(_paths("ide"), opt=policy("workspace.use", "workspace"))
async def ide_socket(socket: WebSocket[Principal, Any, Any], workspace_id: FromPath[str]) -> None:
    await _ws(
        socket,
        workspace_id=_parse(workspace_id),
        subject=f"user:{socket.user.user_id}",
        scope_name="ide",
        path="ide" + (_rest(socket.scope, f"/workspaces/{workspace_id}/ide") or "/"),
        ip=socket.user.actor.ip,
    )


@route(
    _paths("ports/{port:int}"),
    http_method=HTTP_METHODS,
    opt=policy("workspace.use", "workspace"),
    include_in_schema=False,
)
async def port(request: Request[Principal, Any, Any], workspace_id: FromPath[str], port: FromPath[int]) -> ASGIApp:
    prefix = f"/workspaces/{workspace_id}/ports/{port}"
    return _slash(request, prefix) or _http(
        request,
        workspace_id=_parse(workspace_id),
        subject=f"user:{request.user.user_id}",
        scope_name=f"port:{port}",
        path=f"port/{port}" + _rest(request.scope, prefix),
        ip=request.user.actor.ip,
        sandbox=True,
    )


@websocket(_paths("ports/{port:int}"), opt=policy("workspace.use", "workspace"))
async def port_socket(socket: WebSocket[Principal, Any, Any], workspace_id: FromPath[str], port: FromPath[int]) -> None:
    await _ws(
        socket,
        workspace_id=_parse(workspace_id),
        subject=f"user:{socket.user.user_id}",
        scope_name=f"port:{port}",
        path=f"port/{port}" + (_rest(socket.scope, f"/workspaces/{workspace_id}/ports/{port}") or "/"),
        ip=socket.user.actor.ip,
    )


# ---------------------------------------------------------------- terminal, exec, files, metrics


@websocket(f"{WS}/terminal", opt=policy("workspace.use", "workspace"))
async def terminal(socket: WebSocket[Principal, Any, Any], workspace_id: FromPath[str]) -> None:
    """A terminal in the workspace (a real PTY). Messages as in ``wws_events.gateway``:
    ``{"type":"input","data":…}``, ``{"type":"resize","cols":…,"rows":…}`` in;
    ``{"type":"session","id":…}``, ``{"type":"output","data":…}``, ``{"type":"exit","code":…}``
    out. Reconnect with ``?session=<id>`` within the grace period to get the same shell and
    the output missed."""
    await _ws(
        socket,
        workspace_id=_parse(workspace_id),
        subject=f"user:{socket.user.user_id}",
        scope_name="terminal",
        path="terminal",
        ip=socket.user.actor.ip,
    )


@route(f"{WS}/exec", http_method=["POST"], opt=policy("workspace.use", "workspace"), summary="Run a command")
async def exec_(request: Request[Principal, Any, Any], workspace_id: FromPath[str]) -> ASGIApp:
    """Body: ``{"argv": [...], "cwd"?, "env"?, "timeout_s"?, "stdin"?, "stream"?}``; answers
    ``{"exit_code", "stdout", "stderr", ...}``, or NDJSON chunks when ``stream`` is true."""
    return _http(
        request,
        workspace_id=_parse(workspace_id),
        subject=f"user:{request.user.user_id}",
        scope_name="exec",
        path="exec",
        ip=request.user.actor.ip,
    )


@route(
    _paths("files"),
    http_method=["GET", "PUT", "POST", "DELETE"],
    opt=policy("workspace.use", "workspace"),
    summary="Files in the workspace's home: list, stat, content (download/upload), upload (multipart), mkdir, delete",
)
async def files(request: Request[Principal, Any, Any], workspace_id: FromPath[str]) -> ASGIApp:
    writes = request.method not in ("GET", "HEAD")
    return _http(
        request,
        workspace_id=_parse(workspace_id),
        subject=f"user:{request.user.user_id}",
        scope_name="files:write" if writes else "files:read",
        path="files" + _rest(request.scope, f"/workspaces/{workspace_id}/files"),
        ip=request.user.actor.ip,
    )


@route(f"{WS}/metrics", http_method=["GET"], opt=policy("workspace.read", "workspace"), summary="Resource use")
async def metrics(request: Request[Principal, Any, Any], workspace_id: FromPath[str]) -> ASGIApp:
    """cpu %, memory, disk, network, processes, uptime: now and the recent history."""
    return _http(
        request,
        workspace_id=_parse(workspace_id),
        subject=f"user:{request.user.user_id}",
        scope_name="metrics",
        path="metrics",
        ip=request.user.actor.ip,
    )


# ---------------------------------------------------------------- share links

_SHARE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SHARE = "/api/v1/shares/{share_id:str}"


async def _share_target(
    conn: Request[Any, Any, Any] | WebSocket[Any, Any, Any], share_id: str
) -> tuple[Any, str | None]:
    """The live share, if this caller may follow it (else a status and a reason)."""
    services = conn.app.state.services
    row = await services.shares.live(share_id) if _SHARE_ID.match(share_id) else None
    if row is None:
        return None, "404"
    if row["level"] == "public":
        return row, None
    who: Principal | None = conn.scope.get("user")
    if who is None:
        return None, "401"
    ws = await services.pool.fetchrow(
        "SELECT org_id, owner_id, state->'grants' AS grants FROM api_workspaces WHERE workspace_id = $1",
        row["workspace_id"],
    )
    if ws is None:
        return None, "404"
    if row["level"] == "org":
        # any member of the workspace's organization, whatever their role
        return (row, None) if ws["org_id"] in who.subject.roles else (None, "404")
    resource = Resource(
        type="workspace",
        org_id=ws["org_id"],
        id=str(row["workspace_id"]),
        owner_id=ws["owner_id"],
        grants=msgspec.json.decode(ws["grants"]) if ws["grants"] else {},
    )
    # owner: those who may use the workspace (its owner, use/manage grantees, org admins)
    if not authorize(who.subject, "workspace.use", resource).allowed:
        return None, "404"
    return row, None


_REFUSAL = {"404": "no such share (or it has expired)", "401": "this share is not public: log in first"}


@route([SHARE, f"{SHARE}/{{rest:path}}"], http_method=HTTP_METHODS, opt=PUBLIC, include_in_schema=False)
async def share(request: Request[Any, Any, Any], share_id: FromPath[str]) -> ASGIApp:
    """A share link: its level decides who gets through; expired or revoked: 404 at once."""
    row, refused = await _share_target(request, share_id)
    if refused is not None:
        status = int(refused)

        async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
            await send_problem(send, status, _REFUSAL[refused])  # type: ignore[arg-type]

        return refuse
    who: Principal | None = request.scope.get("user")
    prefix = f"/shares/{share_id}"
    return _slash(request, prefix) or _http(
        request,
        workspace_id=row["workspace_id"],
        subject=f"share:{share_id}",
        scope_name=f"port:{row['port']}",
        path=f"port/{row['port']}" + _rest(request.scope, prefix),
        ip=who.actor.ip if who else None,
        sandbox=True,
    )


@websocket([SHARE, f"{SHARE}/{{rest:path}}"], opt=PUBLIC)
async def share_socket(socket: WebSocket[Any, Any, Any], share_id: FromPath[str]) -> None:
    row, refused = await _share_target(socket, share_id)
    if refused is not None:
        await socket.receive()
        await deny_websocket(dict(socket.scope), socket.send, int(refused), _REFUSAL[refused])  # type: ignore[arg-type]
        return
    await _ws(
        socket,
        workspace_id=row["workspace_id"],
        subject=f"share:{share_id}",
        scope_name=f"port:{row['port']}",
        path=f"port/{row['port']}" + (_rest(socket.scope, f"/shares/{share_id}") or "/"),
        ip=None,
    )


# ---------------------------------------------------------------- signed file links


def _refusal(status: int, detail: str) -> ASGIApp:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await send_problem(send, status, detail)  # type: ignore[arg-type]

    return refuse


class FileLinkCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A URL that downloads (``GET``) or uploads (``PUT``, replacing) one file for a while."""

    path: str
    method: Literal["GET", "PUT"] = "GET"
    expires_in_s: Annotated[int, msgspec.Meta(gt=0, le=86400)] = 900


class FileLink(msgspec.Struct, kw_only=True):
    url: str
    method: str
    path: str
    expires_at: datetime


@post(
    f"{WS}/file-links",
    status_code=201,
    summary="A short-lived signed URL for one file download or upload",
    opt=policy("workspace.use", "workspace"),
)
async def file_link(
    request: Request[Principal, Any, Any], data: JSONBody[FileLinkCreate], workspace_id: FromPath[str]
) -> FileLink:
    services = request.app.state.services
    if not data.path or data.path.startswith("/") or "\x00" in data.path:
        raise errors.BadRequestField("path", "a path relative to the home directory")
    token, exp = filelinks.mint(
        services.gateway,
        user_id=request.user.user_id,
        workspace_id=_parse(workspace_id),
        path=data.path,
        method=data.method,
        ttl_s=data.expires_in_s,
    )
    base = (services.settings.public_url or str(request.base_url)).rstrip("/")
    return FileLink(
        url=f"{base}/api/v1/file-links/{token}",
        method=data.method,
        path=data.path,
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


@route("/api/v1/file-links/{token:str}", http_method=["GET", "PUT"], opt=PUBLIC, summary="Follow a signed file link")
async def follow_file_link(request: Request[Any, Any, Any], token: FromPath[str]) -> ASGIApp:
    """The signed URL itself: no other credential is needed or looked at."""
    try:
        link = filelinks.check(request.app.state.services.gateway, token)
    except filelinks.InvalidLink as exc:
        return _refusal(403, str(exc))
    if request.method != link.method:
        return _refusal(405, f"this link is for {link.method}")
    query = urlencode({"path": link.path, **({"overwrite": "true"} if link.method == "PUT" else {})}).encode()
    return _http(
        request,
        workspace_id=link.ws,
        subject=f"user:{link.sub}",
        scope_name="files:write" if link.method == "PUT" else "files:read",
        path="files/content",
        ip=None,
        query=query,
    )


ROUTES = [
    ide,
    ide_socket,
    port,
    port_socket,
    terminal,
    exec_,
    files,
    metrics,
    share,
    share_socket,
    file_link,
    follow_file_link,
]
