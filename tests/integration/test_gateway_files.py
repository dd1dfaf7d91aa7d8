"""The gateway's ``/w/<id>/files`` routes over real HTTP (uvicorn), on a real home
directory: streamed uploads and downloads, limits, confinement, scopes, activity.

The auth middleware is replaced by one that hands the handlers the claims a test chose."""

from __future__ import annotations

import contextlib
import os
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from tests.fixtures.services import serve_asgi
from tests.integration.workspace_containers import Notes, with_claims
from tests.timeouts import WAIT_MEDIUM
from wws_events.gateway import ISSUER, GatewayClaims
from wws_provisioner.gateway.context import (
    GatewayContext,
    GatewayError,
    WorkspaceRef,
    problem_response,
)
from wws_provisioner.gateway.files import files_router
from wws_provisioner.gateway.fspath import TEMP_PREFIX
from wws_provisioner.runtime.base import container_name
from wws_provisioner.runtime.fake import FakeRuntime
from wws_provisioner.settings import ProvisionerSettings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the gateway chowns files to uid 1000: needs root")

WS = uuid.uuid4()
HOST = "test-host"
PROBLEM = "application/problem+json"
MiB = 1024 * 1024


class OneWorkspace(GatewayContext):
    """This host holds one workspace, WS, whose home volume is a test directory."""

    def __init__(self, home: Path | None, settings: ProvisionerSettings, activity: Notes) -> None:
        super().__init__(FakeRuntime(), settings, activity)
        self.home = home

    async def locate(self, workspace_id: uuid.UUID, *, need_running: bool = True) -> WorkspaceRef:
        if workspace_id != WS:
            raise GatewayError(404, "no such workspace on this host")
        return WorkspaceRef(
            workspace_id=workspace_id, container=container_name(workspace_id), running=False, pid=None, home=self.home
        )


def claims(scope: str = "files:write", *, ws: uuid.UUID = WS, sub: str = "user:u1") -> GatewayClaims:
    return GatewayClaims(iss=ISSUER, aud=HOST, sub=sub, org="org1", ws=ws, scope=scope, iat=0, exp=2**40, jti="j1")


@dataclass
class Gateway:
    client: httpx.AsyncClient
    home: Path
    notes: Notes
    claims: GatewayClaims

    def url(self, route: str = "") -> str:
        return f"/w/{WS}/files{route}"


@contextlib.asynccontextmanager
async def serve(home: Path | None, *, max_upload_mb: int = 1024) -> AsyncIterator[Gateway]:
    notes = Notes()
    settings = ProvisionerSettings(host_id=HOST, max_upload_mb=max_upload_mb)
    app = Litestar(
        route_handlers=[files_router(OneWorkspace(home, settings, notes))],
        exception_handlers={GatewayError: problem_response},
    )
    holder: list[Gateway] = []
    # a test may change the claims of its gateway between requests
    app_with_claims = with_claims(app, lambda headers: holder[0].claims if holder else None)
    async with (
        serve_asgi(app_with_claims, start_timeout=WAIT_MEDIUM) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        holder.append(Gateway(client=client, home=home or Path("/nonexistent"), notes=notes, claims=claims()))
        yield holder[0]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    home = tmp_path / "home"
    home.mkdir()
    async with serve(home) as running:
        yield running


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    return body


def payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


async def chunked(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def leftovers(home: Path) -> list[str]:
    return [p.name for p in home.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# ---------------------------------------------------------------- transfers


async def test_raw_upload_then_download_is_byte_identical(gw: Gateway) -> None:
    data = payload(3 * MiB + 17)
    r = await gw.client.put(gw.url("/content"), params={"path": "data.bin"}, content=data)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(data) and r.json()["type"] == "file" and r.json()["path"] == "data.bin"
    st = (gw.home / "data.bin").stat()
    assert (st.st_uid, st.st_gid) == (1000, 1000)

    r = await gw.client.get(gw.url("/content"), params={"path": "data.bin"})
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''data.bin"
    assert gw.notes.seen and set(gw.notes.seen) == {(WS, "org1", "files")}


async def test_chunked_upload_streams_to_disk(gw: Gateway) -> None:
    data = payload(3 * MiB)
    r = await gw.client.put(gw.url("/content"), params={"path": "chunked.bin"}, content=chunked(data))
    assert r.status_code == 201, r.text
    assert (gw.home / "chunked.bin").read_bytes() == data
    problem(await gw.client.put(gw.url("/content"), params={"path": "chunked.bin"}, content=b"x"), 409)
    r = await gw.client.put(gw.url("/content"), params={"path": "chunked.bin", "overwrite": "true"}, content=b"x")
    assert r.status_code == 201 and (gw.home / "chunked.bin").read_bytes() == b"x"


async def test_multipart_upload_then_download(gw: Gateway) -> None:
    (gw.home / "in").mkdir()
    data = payload(3 * MiB)
    files = [
        ("a", ("big.bin", data, "application/octet-stream")),
        ("b", ("../../C:\\Users\\me\\résumé.txt", b"cv", "text/plain")),
    ]
    r = await gw.client.post(gw.url("/upload"), params={"path": "in"}, files=files, data={"note": "ignored"})
    assert r.status_code == 201, r.text
    assert [f["path"] for f in r.json()["files"]] == ["in/big.bin", "in/résumé.txt"]
    r = await gw.client.get(gw.url("/content"), params={"path": "in/big.bin"})
    assert r.content == data
    r = await gw.client.get(gw.url("/content"), params={"path": "in/résumé.txt"})
    assert r.content == b"cv"
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    assert (gw.home / "in" / "big.bin").stat().st_uid == 1000


async def test_multipart_upload_is_all_or_nothing(gw: Gateway) -> None:
    (gw.home / "taken.txt").write_bytes(b"old")
    files = [("a", ("new.txt", b"new")), ("b", ("taken.txt", b"other"))]
    problem(await gw.client.post(gw.url("/upload"), files=files), 409)
    assert sorted(p.name for p in gw.home.iterdir()) == ["taken.txt"]
    assert (gw.home / "taken.txt").read_bytes() == b"old"
    r = await gw.client.post(gw.url("/upload"), params={"overwrite": "true"}, files=files)
    assert r.status_code == 201 and (gw.home / "taken.txt").read_bytes() == b"other"
    problem(await gw.client.post(gw.url("/upload"), params={"path": "missing"}, files=files), 404)
    problem(await gw.client.post(gw.url("/upload"), files=[("a", ("..", b"x"))]), 400)
    problem(await gw.client.post(gw.url("/upload"), files=[("a", ("x", b"1")), ("b", ("x", b"2"))]), 400)
    problem(await gw.client.post(gw.url("/upload"), data={"only": "fields"}, files=[]), 415)
    problem(await gw.client.post(gw.url("/upload"), content=b"plain", headers={"content-type": "text/plain"}), 415)
    bad = {"content-type": "multipart/form-data; boundary=xyz"}
    problem(await gw.client.post(gw.url("/upload"), content=b"--xyz\r\nbroken", headers=bad), 400)
    assert not leftovers(gw.home)


async def test_uploads_over_the_cap_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    async with serve(tmp_path, max_upload_mb=1) as gw:
        body = problem(await gw.client.put(gw.url("/content"), params={"path": "a"}, content=payload(MiB + 1)), 413)
        assert "limit" in body["detail"]
        problem(await gw.client.put(gw.url("/content"), params={"path": "b"}, content=chunked(payload(2 * MiB))), 413)
        files = [("a", ("c", payload(MiB // 2))), ("b", ("d", payload(MiB // 2 + 1)))]
        problem(await gw.client.post(gw.url("/upload"), files=files), 413)
        assert list(tmp_path.iterdir()) == []
        r = await gw.client.put(gw.url("/content"), params={"path": "exact"}, content=chunked(payload(MiB)))
        assert r.status_code == 201, r.text
        assert [p.name for p in tmp_path.iterdir()] == ["exact"]


# ---------------------------------------------------------------- confinement


async def test_traversal_and_symlinks_out_are_refused(gw: Gateway, tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"host")
    (gw.home / "etc").symlink_to("/etc")
    (gw.home / "up").symlink_to("../secret")
    for path in ("../secret", "a/../../secret", "/etc/passwd", "a\x00b"):
        problem(await gw.client.get(gw.url("/content"), params={"path": path}), 400)
        problem(await gw.client.put(gw.url("/content"), params={"path": path}, content=b"x"), 400)
    for path in ("etc/passwd", "up"):
        body = problem(await gw.client.get(gw.url("/content"), params={"path": path}), 403)
        assert "outside the home" in body["detail"]
        problem(await gw.client.put(gw.url("/content"), params={"path": path, "overwrite": "true"}, content=b"x"), 403)
    problem(await gw.client.get(gw.url("/list"), params={"path": "etc"}), 403)
    problem(await gw.client.post(gw.url("/upload"), params={"path": "etc"}, files=[("f", ("x", b"x"))]), 403)
    problem(await gw.client.post(gw.url("/mkdir"), params={"path": "etc/wws-x", "parents": "true"}), 403)
    problem(await gw.client.delete(gw.url(), params={"path": "etc/hostname"}), 403)
    assert (tmp_path / "secret").read_bytes() == b"host" and Path("/etc/hostname").exists()
    r = await gw.client.delete(gw.url(), params={"path": "etc"})  # the link, not /etc
    assert r.status_code == 204 and not (gw.home / "etc").is_symlink() and Path("/etc").is_dir()


# ---------------------------------------------------------------- the rest


async def test_list_stat_mkdir_delete(gw: Gateway) -> None:
    r = await gw.client.post(gw.url("/mkdir"), params={"path": "a/b", "parents": "true"})
    assert r.status_code == 201 and r.json()["type"] == "dir" and r.json()["path"] == "a/b"
    problem(await gw.client.post(gw.url("/mkdir"), params={"path": "a/b"}), 409)
    problem(await gw.client.post(gw.url("/mkdir"), params={"path": "x/y"}), 404)
    await gw.client.put(gw.url("/content"), params={"path": "a/b/f.txt"}, content=b"hello")

    r = await gw.client.get(gw.url("/list"), params={"path": "a/b"})
    assert r.status_code == 200
    listing = r.json()
    assert listing["path"] == "a/b" and [e["name"] for e in listing["entries"]] == ["f.txt"]
    entry = listing["entries"][0]
    assert entry["size"] == 5 and entry["mode"] == "0644" and entry["mtime"].endswith("Z")
    r = await gw.client.get(gw.url("/list"))
    assert [e["name"] for e in r.json()["entries"]] == ["a"] and r.json()["path"] == ""
    r = await gw.client.get(gw.url("/stat"), params={"path": "a/b/f.txt"})
    assert r.json() == entry
    problem(await gw.client.get(gw.url("/content"), params={"path": "a"}), 400)

    problem(await gw.client.delete(gw.url(), params={"path": "a"}), 409)
    problem(await gw.client.delete(gw.url(), params={"path": ""}), 400)
    r = await gw.client.delete(gw.url(), params={"path": "a", "recursive": "true"})
    assert r.status_code == 204 and list(gw.home.iterdir()) == []
    problem(await gw.client.get(gw.url("/stat"), params={"path": "a"}), 404)
    problem(await gw.client.delete(gw.url(), params={"path": "a"}), 404)


async def test_scopes_and_workspace_of_the_token(gw: Gateway) -> None:
    (gw.home / "f").write_bytes(b"x")
    gw.claims = claims("files:read")
    assert (await gw.client.get(gw.url("/list"))).status_code == 200
    assert (await gw.client.get(gw.url("/content"), params={"path": "f"})).content == b"x"
    writes = [
        gw.client.put(gw.url("/content"), params={"path": "g"}, content=b"x"),
        gw.client.post(gw.url("/upload"), files=[("f", ("g", b"x"))]),
        gw.client.post(gw.url("/mkdir"), params={"path": "d"}),
        gw.client.delete(gw.url(), params={"path": "f"}),
    ]
    for call in writes:
        assert "files:write" in problem(await call, 403)["detail"]
    gw.claims = claims("ide")
    problem(await gw.client.get(gw.url("/list")), 403)
    gw.claims = claims(ws=uuid.uuid4())
    assert "another workspace" in problem(await gw.client.get(gw.url("/list")), 403)["detail"]
    assert sorted(p.name for p in gw.home.iterdir()) == ["f"]


async def test_only_users_count_as_activity(gw: Gateway) -> None:
    gw.claims = claims("files:read", sub="share:s1")
    assert (await gw.client.get(gw.url("/list"))).status_code == 200
    assert gw.notes.seen == []
    gw.claims = claims("files:read")
    assert (await gw.client.get(gw.url("/list"))).status_code == 200
    assert gw.notes.seen == [(WS, "org1", "files")]


async def test_workspace_without_a_home_volume() -> None:
    async with serve(None) as gw:
        assert "no home volume" in problem(await gw.client.get(gw.url("/list")), 404)["detail"]
        other = f"/w/{uuid.uuid4()}/files/list"
        gw.claims = msgspec.structs.replace(gw.claims, ws=uuid.UUID(other.split("/")[2]))
        problem(await gw.client.get(other), 404)
