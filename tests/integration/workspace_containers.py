"""Workspace containers as the agent labels them, made with the Podman CLI (through the
test's Podman service), for tests of what the gateway reads from running workspaces. The
``host_id`` fixture removes them and their volumes."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from litestar.types import ASGIApp, Receive, Scope, Send

from tests.fixtures.podman import remove_host_resources
from wws_events.gateway import ISSUER, GatewayClaims
from wws_provisioner.gateway.context import CLAIMS_KEY, GatewayContext, GatewayError, WorkspaceRef
from wws_provisioner.runtime.base import container_name
from wws_provisioner.runtime.fake import FakeRuntime
from wws_provisioner.settings import ProvisionerSettings


def podman(url: str, *args: str) -> str:
    return subprocess.run(["podman", "--url", url, *args], check=True, capture_output=True, text=True).stdout


def start_workspace(
    url: str,
    host_id: str,
    image: str,
    *,
    cpus: float = 0.5,
    memory: str = "256m",
    disk_gb: int | None = None,
) -> uuid.UUID:
    """A running ``wws-<uuid>`` container (``sleep infinity`` under catatonit), with a home
    volume ``wws-home-<uuid>`` labelled ``wws.disk_gb`` when ``disk_gb`` is given."""
    ws = uuid.uuid4()
    labels = ["--label", "wws.managed=true", "--label", f"wws.host={host_id}", "--label", f"wws.workspace={ws}"]
    mounts: list[str] = []
    if disk_gb is not None:
        podman(url, "volume", "create", *labels, "--label", f"wws.disk_gb={disk_gb}", f"wws-home-{ws}")
        mounts = ["-v", f"wws-home-{ws}:/home/dev"]
    podman(
        url,
        "run",
        "-d",
        "--init",
        *labels,
        "--name",
        f"wws-{ws}",
        f"--cpus={cpus}",
        f"--memory={memory}",
        *mounts,
        image,
        "sleep",
        "infinity",
    )
    return ws


def exec_detached(url: str, ws: uuid.UUID, script: str) -> None:
    podman(url, "exec", "-d", f"wws-{ws}", "sh", "-c", script)


def write_run_meta(runtime_dir: Path, ws: uuid.UUID, org_id: str) -> None:
    """The init.json the agent writes at a start (``WorkspaceDirs.run_meta`` reads it)."""
    d = runtime_dir / str(ws)
    d.mkdir(parents=True, exist_ok=True)
    meta = {"org_id": org_id, "correlation_id": str(uuid.uuid4()), "run_id": str(uuid.uuid4())}
    (d / "init.json").write_text(json.dumps(meta))


class Notes:
    """An ActivitySink that remembers."""

    def __init__(self) -> None:
        self.seen: list[tuple[uuid.UUID, str, str]] = []

    def note(self, workspace_id: uuid.UUID, org_id: str, source: str) -> None:
        self.seen.append((workspace_id, org_id, source))


@dataclass
class Workspace:
    id: uuid.UUID
    url: str
    """The Podman service's URL."""
    pid: int

    @property
    def container(self) -> str:
        return container_name(self.id)

    def ps(self) -> str:
        return podman(self.url, "exec", self.container, "ps", "-eo", "pid,args")


@contextmanager
def running_workspace(url: str, image: str) -> Iterator[Workspace]:
    """One running workspace container on a host of its own, removed afterwards."""
    host = f"t-{uuid.uuid4().hex[:10]}"
    try:
        ws = start_workspace(url, host, image, cpus=1.0)
        pid = int(podman(url, "inspect", "--format", "{{.State.Pid}}", container_name(ws)).strip())
        yield Workspace(id=ws, url=url, pid=pid)
    finally:
        remove_host_resources(host)


class HostOf(GatewayContext):
    """This host holds exactly the test's workspace."""

    def __init__(self, ws: Workspace, settings: ProvisionerSettings, activity: Notes) -> None:
        super().__init__(FakeRuntime(), settings, activity)
        self.ws = ws

    async def locate(self, workspace_id: uuid.UUID, *, need_running: bool = True) -> WorkspaceRef:
        if workspace_id != self.ws.id:
            raise GatewayError(404, "no such workspace on this host")
        return WorkspaceRef(
            workspace_id=workspace_id, container=self.ws.container, running=True, pid=self.ws.pid, home=None
        )


def with_claims(app: ASGIApp, claims_for: Callable[[dict[bytes, bytes]], GatewayClaims | None]) -> ASGIApp:
    """Stands in for the gateway's token check: the claims a test chose, from the request's
    headers (None: no claims, as for a request the check would refuse)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            found = claims_for(dict(scope.get("headers") or []))
            if found is not None:
                scope[CLAIMS_KEY] = found  # type: ignore[literal-required]
        await app(scope, receive, send)

    return asgi


def header_claims(
    ws: uuid.UUID, *, org: str, scope: str, sub: str = "user:alice"
) -> Callable[[dict[bytes, bytes]], GatewayClaims]:
    """Claims for ``ws``, with the scope and subject a request's ``x-scope`` / ``x-sub``
    headers ask for (defaults: ``scope``, ``sub``)."""

    def claims(headers: dict[bytes, bytes]) -> GatewayClaims:
        return GatewayClaims(
            iss=ISSUER,
            aud="test-host",
            sub=headers.get(b"x-sub", sub.encode()).decode(),
            org=org,
            ws=ws,
            scope=headers.get(b"x-scope", scope.encode()).decode(),
            iat=0,
            exp=2**40,
            jti=uuid.uuid4().hex,
        )

    return claims
