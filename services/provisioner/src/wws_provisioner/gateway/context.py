"""What every gateway handler needs: the verified claims of the request, and where the
workspace is on this host. The server's auth middleware puts the claims in the ASGI scope
(``scope["wws_claims"]``); handlers call :func:`claims_of` and :meth:`GatewayContext.locate`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
from litestar import Request, Response

from wws_events.gateway import GatewayClaims
from wws_provisioner.runtime.base import WorkspaceRuntime, container_name
from wws_provisioner.settings import ProvisionerSettings
from wws_proxy import problem

CLAIMS_KEY = "wws_claims"
HOME_IN_CONTAINER = "/home/dev"


class GatewayError(Exception):
    """An error a gateway handler answers with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class WorkspaceRef(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    container: str
    """Container name (``wws-<id>``), for ``podman exec``."""
    running: bool
    pid: int | None
    """The container's init process on this host (its namespaces are the workspace's)."""
    home: Path | None
    """The persistent home volume's directory on this host (mounted at /home/dev inside)."""


def problem_response(request: Request[Any, Any, Any], exc: GatewayError) -> Response[dict[str, Any]]:
    """RFC 9457 problem details for a refused gateway request (the API passes them on)."""
    return Response(
        problem(exc.status, exc.message),
        status_code=exc.status,
        media_type="application/problem+json",
    )


def claims_of(scope: Mapping[str, Any]) -> GatewayClaims:
    found = scope.get(CLAIMS_KEY)
    if not isinstance(found, GatewayClaims):  # the auth middleware always sets it
        raise GatewayError(401, "no verified gateway token")
    return found


def require(claims: GatewayClaims, workspace_id: uuid.UUID, scope: str) -> None:
    """The token is for this workspace and grants ``scope`` (``files:write`` implies ``files:read``)."""
    if claims.ws != workspace_id:
        raise GatewayError(403, "the token is for another workspace")
    granted = {claims.scope} | ({"files:read"} if claims.scope == "files:write" else set())
    if scope not in granted:
        raise GatewayError(403, f"the token does not grant {scope}")


class ActivitySink(Protocol):
    def note(self, workspace_id: uuid.UUID, org_id: str, source: str) -> None:
        """Someone worked in the workspace just now (``source``: ide, port, terminal, exec,
        files, cpu). Never blocks; the sink records at most one event per workspace per
        ``activity_interval_s``."""
        ...


def note_use(activity: ActivitySink, claims: GatewayClaims, source: str) -> None:
    """Record a user's use of the workspace (people following a share link do not count:
    a public preview must not keep a workspace alive forever)."""
    if claims.sub.startswith("user:"):
        activity.note(claims.ws, claims.org, source)


def _started(pid: int) -> str | None:
    """The process's start time (field 22 of its stat): with the pid, it names one process
    for good (a pid can be reused, a (pid, start time) pair cannot)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


class GatewayContext:
    LOCATE_TTL_S = 10.0
    """How long a running workspace's location is trusted without asking Podman again (its
    init process is checked every time: a stop or restart is noticed at once)."""

    def __init__(self, runtime: WorkspaceRuntime, settings: ProvisionerSettings, activity: ActivitySink) -> None:
        self.runtime = runtime
        self.settings = settings
        self.host_id = settings.host_id
        self.activity = activity
        self._located: dict[uuid.UUID, tuple[float, str, WorkspaceRef]] = {}

    async def locate(self, workspace_id: uuid.UUID, *, need_running: bool = True) -> WorkspaceRef:
        """The workspace on this host (404 when it is not here, 409 when it must run and does
        not). Every proxied request asks, so a running workspace's answer is kept a few
        seconds: three Podman API calls would cost milliseconds per request."""
        cached = self._located.get(workspace_id)
        if cached is not None:
            at, started, ref = cached
            if time.monotonic() - at < self.LOCATE_TTL_S and ref.pid is not None and _started(ref.pid) == started:
                return ref
            self._located.pop(workspace_id, None)
        ref = await self._ask(workspace_id, need_running=need_running)
        if ref.pid is not None and (first := _started(ref.pid)) is not None:
            self._located[workspace_id] = (time.monotonic(), first, ref)
        return ref

    async def _ask(self, workspace_id: uuid.UUID, *, need_running: bool) -> WorkspaceRef:
        info = await self.runtime.describe(workspace_id)
        if info is None:
            raise GatewayError(404, "no such workspace on this host")
        running = info.status == "running"
        if need_running and not running:
            raise GatewayError(409, f"the workspace is {info.status}, not running")
        pid = await self.runtime.container_pid(workspace_id) if running else None
        home = await self.runtime.volume_path(workspace_id)
        return WorkspaceRef(
            workspace_id=workspace_id,
            container=container_name(workspace_id),
            running=running,
            pid=pid,
            home=Path(home) if home else None,
        )
