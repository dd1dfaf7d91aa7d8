"""Reaching a workspace through the API, end to end: real API and agent processes, real
Podman, real code-server. The IDE page and its WebSocket through the proxy, the terminal,
exec, files, metrics and share links; and nobody else's token gets through."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_async
from websockets.sync.client import connect as ws_connect

from tests.fixtures.services import TOKEN, ProcessStack
from tests.timeouts import WAIT_LONG, eventually_sync

pytestmark = pytest.mark.e2e
IDE_IMAGE = "localhost/wws-ide:bookworm"


def _start(stack: ProcessStack, **env: str) -> None:
    stack.start("api", "serve")
    stack.start("provisioner", WWS_PROVISIONER_INIT_TIMEOUT_S="300", **env)
    stack.wait_ready()


def _ready(stack: ProcessStack, ws: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        with stack.client() as api:
            view = api.get(f"/api/v1/workspaces/{ws}").json()
        if view["status"] == "failed":
            raise AssertionError(f"workspace failed: {view['last_error']}")
        return view if view["ready"] else None

    return eventually_sync(check, timeout=WAIT_LONG, interval=0.5, what="workspace ready")


def _create(stack: ProcessStack, name: str, image: str, ide: bool) -> str:
    with stack.client(timeout=300) as api:
        r = api.post("/api/v1/workspaces?wait=running", json={"name": name, "image": image, "ide": ide})
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


def _vscode_frame(kind: int, body: bytes, ident: int = 1) -> bytes:
    """VS Code's remote protocol: type, id, ack, length, then the body."""
    return struct.pack(">BIII", kind, ident, 0, len(body)) + body


def test_the_ide_page_and_its_websocket_through_the_api(process_stack: ProcessStack) -> None:
    stack = process_stack
    _start(stack)
    ws = _create(stack, "ide", IDE_IMAGE, ide=True)
    _ready(stack, ws)
    base = f"/api/v1/workspaces/{ws}/ide"
    with stack.client(timeout=30) as api:
        r = api.get(base)
        assert r.status_code == 308 and r.headers["location"].endswith(f"{base}/")
        page = api.get(f"{base}/", follow_redirects=True)
        assert page.status_code == 200, page.text[:300]
        assert "text/html" in page.headers["content-type"] and "vscode" in page.text.lower()
        # a static asset the page loads, by the relative URL the page uses
        assert "status" in api.get(f"{base}/healthz").json()
        # no token, no way in; code-server never sees WWS's credentials either
        assert httpx.get(f"{stack.url}{base}/healthz").status_code == 401

    # the workbench's WebSocket: VS Code's protocol handshake answered by the real server
    url = f"{stack.url.replace('http://', 'ws://')}{base}/?reconnectionToken={uuid.uuid4()}&reconnection=false&skipWebSocketFrames=false"
    with ws_connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}", "Origin": stack.url}) as sock:
        sock.send(_vscode_frame(2, json.dumps({"type": "auth", "auth": "00000000000000000000"}).encode()))
        reply = sock.recv(timeout=20)
        assert isinstance(reply, bytes) and reply[0] == 2, reply[:40]
        assert json.loads(reply[13:])["type"] == "sign"


def test_code_server_is_not_published_on_the_host(process_stack: ProcessStack) -> None:
    stack = process_stack
    _start(stack)
    ws = _create(stack, "ide-closed", IDE_IMAGE, ide=True)
    _ready(stack, ws)
    ports = json.loads(
        subprocess.run(
            ["podman", "inspect", f"wws-{ws}", "--format", "{{json .NetworkSettings.Ports}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert not any(ports.values()), ports  # the image's EXPOSE, bound to no host port


async def _terminal_roundtrip(base: str, ws: str) -> None:
    url = f"{base.replace('http://', 'ws://')}/api/v1/workspaces/{ws}/terminal?cols=100&rows=30"

    async def until(term: Any, marker: str) -> str:
        seen = ""
        while marker not in seen:
            message = json.loads(await asyncio.wait_for(term.recv(), 20))
            if message["type"] == "output":
                seen += message["data"]
        return seen

    async with ws_async(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as term:
        hello = json.loads(await term.recv())
        assert hello["type"] == "session" and hello["replayed"] is False
        session = hello["id"]
        await term.send(json.dumps({"type": "input", "data": "echo hi-$((40+2))\r"}))
        await until(term, "hi-42")
        await term.send(json.dumps({"type": "resize", "cols": 132, "rows": 43}))
        await term.send(json.dumps({"type": "input", "data": "stty size; echo size-$((1+1))\r"}))
        out = await until(term, "size-2")
        assert "43 132" in out, out
        # what the shell prints while nobody is connected is replayed on reconnect
        await term.send(json.dumps({"type": "input", "data": "sleep 1; echo missed-$((6*7))\r"}))
    await asyncio.sleep(2.0)
    async with ws_async(f"{url}&session={session}", additional_headers={"Authorization": f"Bearer {TOKEN}"}) as term:
        hello = json.loads(await term.recv())
        assert hello == {"type": "session", "id": session, "replayed": True}
        replay = await until(term, "missed-42")
        assert "hi-42" in replay  # the same shell's scrollback


def test_terminal_exec_files_metrics_and_shares_through_the_api(process_stack: ProcessStack) -> None:
    stack = process_stack
    _start(stack)
    ws = _create(stack, "reach", "localhost/wws-base:bookworm", ide=False)
    _ready(stack, ws)
    base = f"/api/v1/workspaces/{ws}"
    asyncio.run(_terminal_roundtrip(stack.url, ws))
    with stack.client(timeout=60) as api:
        # exec
        r = api.post(f"{base}/exec", json={"argv": ["sh", "-c", "cat; echo err >&2; exit 3"], "stdin": "in-put"})
        assert r.status_code == 200, r.text
        assert r.json()["exit_code"] == 3 and r.json()["stdout"] == "in-put" and r.json()["stderr"] == "err\n"
        assert api.post(f"{base}/exec", json={"argv": []}).status_code == 400
        # a caller that leaves ends its command (through the API and the gateway)
        with pytest.raises(httpx.ReadTimeout):
            api.post(
                f"{base}/exec", json={"argv": ["sh", "-c", "touch ~/started-37; sleep 37"], "timeout_s": 300}, timeout=2
            )

        def sleeping() -> str:
            ps = ["podman", "exec", f"wws-{ws}", "ps", "-eo", "args"]
            return subprocess.run(ps, capture_output=True, text=True, check=True).stdout

        assert eventually_sync(lambda: "sleep 37" not in sleeping() or None, timeout=15, what="command killed")
        assert api.get(f"{base}/files/stat", params={"path": "started-37"}).status_code == 200  # it did run
        # files: upload, download byte-identical, escapes refused
        payload = os.urandom(3 * 2**20 + 7)
        r = api.put(f"{base}/files/content", params={"path": "data/blob.bin"}, content=payload)
        assert r.status_code == 404  # no parent yet
        assert api.post(f"{base}/files/mkdir", params={"path": "data"}).status_code == 201
        assert api.put(f"{base}/files/content", params={"path": "data/blob.bin"}, content=payload).status_code == 201
        got = api.get(f"{base}/files/content", params={"path": "data/blob.bin"})
        assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(payload).digest()
        names = [e["name"] for e in api.get(f"{base}/files/list", params={"path": "data"}).json()["entries"]]
        assert names == ["blob.bin"]
        for bad in ("../../etc/passwd", "/etc/passwd", "data/../../x"):
            r = api.get(f"{base}/files/content", params={"path": bad})
            assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", (bad, r.text)
        subprocess.run(["podman", "exec", f"wws-{ws}", "ln", "-s", "/etc", "/home/dev/etc-link"], check=True)
        r = api.get(f"{base}/files/content", params={"path": "etc-link/passwd"})
        assert r.status_code == 403, r.text
        # a signed link downloads without any other credential
        link = api.post(f"{base}/file-links", json={"path": "data/blob.bin"}).json()
        got = httpx.get(link["url"])
        assert got.content == payload, got.text[:300]
        assert httpx.put(link["url"], content=b"x").status_code == 405
        # metrics
        m = api.get(f"{base}/metrics").json()
        assert m["current"]["memory_bytes"] > 0 and m["current"]["pids"] >= 1
        # a shared port: public for anyone with the link, gone when revoked
        echo = Path(__file__).parents[2] / "bench" / "assets" / "ws_echo.py"
        subprocess.run(["podman", "cp", str(echo), f"wws-{ws}:/home/dev/ws_echo.py"], check=True)
        subprocess.run(["podman", "exec", "-d", f"wws-{ws}", "python3", "/home/dev/ws_echo.py", "9000"], check=True)
        share = api.post(f"{base}/shares", json={"port": 9000, "level": "public", "expires_in_s": 300}).json()
        ok = eventually_sync(lambda: httpx.get(share["url"]).text == "ok" or None, timeout=10, what="shared port")
        assert ok
        assert httpx.get(share["url"]).headers["content-security-policy"].startswith("sandbox")
        assert api.get(f"{base}/ports/9000/").text == "ok"
        assert api.delete(f"{base}/shares/{share['id']}").status_code == 204
        assert httpx.get(share["url"]).status_code == 404
