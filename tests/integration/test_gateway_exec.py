"""``POST /w/<id>/exec`` against a real workspace container (real Podman), over real HTTP
(uvicorn + Litestar): exit codes, output, stdin, cwd, secret env, caps, timeouts that kill
the command inside the container, streamed NDJSON, refusals.

The gateway's token check is replaced by a middleware that hands the handlers the claims
a test chose (``x-scope`` header)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.fixtures.services import serve_asgi
from tests.integration.workspace_containers import (
    HostOf,
    Notes,
    Workspace,
    header_claims,
    running_workspace,
    with_claims,
)
from tests.timeouts import WAIT_MEDIUM, WAIT_SHORT, eventually
from wws_provisioner.gateway.context import GatewayError, problem_response
from wws_provisioner.gateway.exec import exec_router
from wws_provisioner.settings import ProvisionerSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ORG = "org-exec"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def workspace(podman_socket: str, base_image: str) -> Iterator[Workspace]:
    """One running workspace container for the module."""
    with running_workspace(podman_socket, base_image) as ws:
        yield ws


@dataclass
class Gateway:
    client: httpx.AsyncClient
    ws: Workspace
    notes: Notes
    runtime_dir: Path

    @property
    def path(self) -> str:
        return f"/w/{self.ws.id}/exec"

    async def run(self, **body: Any) -> dict[str, Any]:
        r = await self.client.post(self.path, json=body)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


@contextlib.asynccontextmanager
async def serve(ws: Workspace, runtime_dir: Path, **overrides: Any) -> AsyncIterator[Gateway]:
    settings = ProvisionerSettings(host_id="test-host", podman_url=ws.url, runtime_dir=str(runtime_dir), **overrides)
    notes = Notes()
    app = Litestar(
        route_handlers=[exec_router(HostOf(ws, settings, notes))], exception_handlers={GatewayError: problem_response}
    )
    async with (
        serve_asgi(with_claims(app, header_claims(ws.id, org=ORG, scope="exec"))) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        yield Gateway(client=client, ws=ws, notes=notes, runtime_dir=runtime_dir)


@pytest.fixture
async def gw(workspace: Workspace, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with serve(workspace, tmp_path / "run") as running:
        yield running


async def running_in(ws: Workspace, needle: str) -> bool:
    return needle in await asyncio.to_thread(ws.ps)


async def gone_from(ws: Workspace, needle: str) -> bool:
    return not await running_in(ws, needle)


def host_command_lines() -> str:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return "\n".join(lines)


# ---------------------------------------------------------------- collected


async def test_exit_code_and_both_outputs(gw: Gateway) -> None:
    result = await gw.run(argv=["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert result["exit_code"] == 7
    assert (result["stdout"], result["stderr"]) == ("out\n", "err\n")
    assert not (result["stdout_truncated"] or result["stderr_truncated"] or result["timed_out"])
    assert result["duration_ms"] > 0
    assert gw.notes.seen == [(gw.ws.id, ORG, "exec")]


async def test_argv_is_passed_as_is_without_a_shell(gw: Gateway) -> None:
    result = await gw.run(argv=["printf", "[%s]", "a b", "$HOME", ";", "--help"])
    assert result["stdout"] == "[a b][$HOME][;][--help]"
    missing = await gw.run(argv=["no-such-program"])
    assert missing["exit_code"] == 127 and "no-such-program" in missing["stderr"]


async def test_stdin_is_written_then_closed(gw: Gateway) -> None:
    assert (await gw.run(argv=["cat"], stdin="hello\nworld\n"))["stdout"] == "hello\nworld\n"
    assert (await gw.run(argv=["cat"]))["stdout"] == ""  # no stdin: end of file at once
    # more than any pipe holds, while the output flows back
    big = await gw.run(argv=["wc", "-c"], stdin="x" * (3 * 1024 * 1024))
    assert big["stdout"].strip() == str(3 * 1024 * 1024)


async def test_cwd_and_the_default_home(gw: Gateway) -> None:
    assert (await gw.run(argv=["pwd"]))["stdout"] == "/home/dev\n"
    assert (await gw.run(argv=["pwd"], cwd="/tmp"))["stdout"] == "/tmp\n"
    await gw.run(argv=["mkdir", "-p", "/home/dev/proj"])
    assert (await gw.run(argv=["pwd"], cwd="proj"))["stdout"] == "/home/dev/proj\n"  # relative: to the home


async def test_env_reaches_the_command_but_never_a_command_line(gw: Gateway) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    result = await gw.run(
        argv=["sh", "-c", 'printf "%s|%s" "$API_TOKEN" "$EMPTY"'], env={"API_TOKEN": secret, "EMPTY": ""}
    )
    assert result["stdout"] == f"{secret}|"

    # while a command runs: not in any process's command line on the host; the env file
    # is private, and gone when the command is
    async with gw.client.stream(
        "POST",
        gw.path,
        json={"argv": ["sh", "-c", "echo ready; sleep 2"], "env": {"API_TOKEN": secret}, "stream": True},
    ) as r:
        lines = r.aiter_lines()
        assert json.loads(await anext(lines)) == {"stream": "stdout", "data": "ready\n", "exit_code": None}
        assert secret not in await asyncio.to_thread(host_command_lines)
        [env_file] = (gw.runtime_dir / "_exec").iterdir()
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert (gw.runtime_dir / "_exec").stat().st_mode & 0o777 == 0o700
        assert [json.loads(line) async for line in lines][-1] == {"stream": "exit", "data": "", "exit_code": 0}
    assert list((gw.runtime_dir / "_exec").iterdir()) == []


async def test_output_is_capped_and_the_rest_drained(workspace: Workspace, tmp_path: Path) -> None:
    async with serve(workspace, tmp_path, exec_max_output_kb=1) as gw:
        # 5 MB: the command must not block on a full pipe once the cap is reached
        result = await gw.run(argv=["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a; echo fine >&2"])
        assert result["exit_code"] == 0
        assert result["stdout"] == "a" * 1024 and result["stdout_truncated"] is True
        assert result["stderr"] == "fine\n" and result["stderr_truncated"] is False
        # a character cut by the cap is dropped, not garbled
        cut = await gw.run(
            argv=["sh", "-c", "printf 'a'; head -c 3000 /dev/zero | tr '\\0' '\\351' | iconv -f latin1 -t utf-8"]
        )
        assert cut["stdout_truncated"] and "\ufffd" not in cut["stdout"] and len(cut["stdout"].encode()) == 1023


async def test_a_timeout_kills_the_command_in_the_container(gw: Gateway) -> None:
    started = time.monotonic()
    call = asyncio.ensure_future(gw.run(argv=["sh", "-c", "echo begun; sleep 3137 & sleep 3138"], timeout_s=2.0))
    await eventually(lambda: running_in(gw.ws, "sleep 3137"), timeout=WAIT_SHORT, what="the command running")
    result = await call
    assert time.monotonic() - started < WAIT_SHORT
    assert result["exit_code"] is None and result["timed_out"] is True
    assert result["stdout"] == "begun\n"
    # the command and its child: ending the podman client alone would leave them running
    await eventually(lambda: gone_from(gw.ws, "sleep 313"), timeout=WAIT_SHORT, what="the command killed")


# ---------------------------------------------------------------- streamed


async def test_streamed_output_comes_as_it_is_written(gw: Gateway) -> None:
    body = {"argv": ["sh", "-c", "echo one; sleep 1; echo two >&2; exit 4"], "stream": True}
    async with gw.client.stream("POST", gw.path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        lines = r.aiter_lines()
        started = time.monotonic()
        first = json.loads(await anext(lines))
        assert first == {"stream": "stdout", "data": "one\n", "exit_code": None}
        rest = [json.loads(line) async for line in lines]
        assert time.monotonic() - started > 0.5  # the first line came before the command ended
    assert rest == [
        {"stream": "stderr", "data": "two\n", "exit_code": None},
        {"stream": "exit", "data": "", "exit_code": 4},
    ]


async def test_a_streamed_command_is_killed_at_its_timeout(gw: Gateway) -> None:
    body = {"argv": ["sh", "-c", "echo go; sleep 2719"], "stream": True, "timeout_s": 2}
    async with gw.client.stream("POST", gw.path, json=body) as r:
        lines = r.aiter_lines()
        assert json.loads(await anext(lines)) == {"stream": "stdout", "data": "go\n", "exit_code": None}
        await eventually(lambda: running_in(gw.ws, "sleep 2719"), timeout=WAIT_SHORT, what="the command running")
        assert [json.loads(line) async for line in lines] == [{"stream": "exit", "data": "", "exit_code": None}]
    assert await gone_from(gw.ws, "sleep 2719")


async def test_a_client_that_leaves_a_stream_kills_the_command(gw: Gateway) -> None:
    body = {"argv": ["sh", "-c", "echo go; sleep 2718"], "stream": True}
    async with gw.client.stream("POST", gw.path, json=body) as r:
        lines = r.aiter_lines()  # kept: a dropped line iterator closes the response
        assert json.loads(await anext(lines))["data"] == "go\n"
        await eventually(lambda: running_in(gw.ws, "sleep 2718"), timeout=WAIT_SHORT, what="the command running")
    await eventually(lambda: gone_from(gw.ws, "sleep 2718"), timeout=WAIT_MEDIUM, what="the command killed")


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"argv": []}, "argv is empty"),
        ({"argv": ["true"], "timeout_s": 0}, "timeout_s"),
        ({"argv": ["true"], "timeout_s": -1}, "timeout_s"),
        ({"argv": ["true"], "timeout_s": 3601}, "timeout_s"),
        ({"argv": ["true"], "env": {"1BAD": "x"}}, "bad environment variable name"),
        ({"argv": ["true"], "env": {"A-B": "x"}}, "bad environment variable name"),
        ({"argv": ["true"], "env": {"OK": "two\nlines"}}, "line break"),
        ({"argv": ["true"], "env": {"OK": "x" * 40000}}, "KiB"),
        ({"argv": ["true"], "cwd": ""}, "cwd"),
        ({"argv": ["a\u0000b"]}, "NUL"),
        ({"argv": ["true"], "shell": True}, "bad exec request"),
        ({"argv": "true"}, "bad exec request"),
    ],
)
async def test_bad_requests_are_refused(gw: Gateway, body: dict[str, Any], message: str) -> None:
    r = await gw.client.post(gw.path, json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(PROBLEM) and message in r.json()["title"]
    assert gw.notes.seen == []


async def test_not_json_and_the_wrong_scope_are_refused(gw: Gateway) -> None:
    r = await gw.client.post(gw.path, content=b"{nope")
    assert r.status_code == 400 and "bad exec request" in r.json()["title"]
    r = await gw.client.post(gw.path, json={"argv": ["true"]}, headers={"x-scope": "terminal"})
    assert r.status_code == 403 and "exec" in r.json()["title"]
    r = await gw.client.post(f"/w/{uuid.uuid4()}/exec", json={"argv": ["true"]})
    assert r.status_code == 403  # the token is for another workspace
    assert re.fullmatch(r"application/problem\+json.*", r.headers["content-type"])
