"""One API, two hosts: the API and NATS in a hub network namespace, one agent in each of two
more namespaces on a private link (tests/fixtures/netns.py). Through the one API: exec, the
terminal, files and metrics of a workspace on each host; the host list with both gateways
on the private subnet; and a host that goes away answers 503 while the other still works."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest

from tests.fixtures.netns import GATEWAY_PORT, NamespacedNats, Topology, TwoHosts
from tests.fixtures.podman import containers_of
from tests.timeouts import WAIT_MEDIUM, eventually
from wws_events.gateway import TerminalServerMessage, TerminalSession

pytestmark = pytest.mark.e2e
_server_message = msgspec.json.Decoder(TerminalServerMessage)


class Timer:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, what: str) -> None:
        self.marks.append((what, time.monotonic() - self.t0))

    def report(self) -> str:
        return ", ".join(f"{w} {t:.2f}s" for w, t in self.marks)


def _in_subnet(url: str, topo: Topology) -> bool:
    host = urlsplit(url).hostname
    return host is not None and ipaddress.ip_address(host) in ipaddress.ip_network(topo.cidr)


async def _create(api: httpx.AsyncClient, name: str, image: str, host_id: str) -> dict[str, Any]:
    r = await api.post(
        "/api/v1/workspaces?wait=running",
        json={"name": name, "image": image, "host": host_id, "ide": False, "network": "none"},
    )
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    assert view["status"] == "running" and view["host_id"] == host_id, view
    return view


async def _exec_hostname(api: httpx.AsyncClient, ws: str) -> httpx.Response:
    return await api.post(f"/api/v1/workspaces/{ws}/exec", json={"argv": ["hostname"]})


async def _terminal(stack: TwoHosts, ws: str) -> str:
    """Open the terminal, type a command, return the output up to its answer."""
    async with await stack.websocket(f"/api/v1/workspaces/{ws}/terminal") as sock:
        first = _server_message.decode(await asyncio.wait_for(sock.recv(), 30))
        assert isinstance(first, TerminalSession) and first.id, first
        await sock.send(json.dumps({"type": "input", "data": "echo hi-$((40+2))\r"}))
        seen = ""
        deadline = time.monotonic() + 30
        while "hi-42" not in seen:
            raw = await asyncio.wait_for(sock.recv(), max(0.1, deadline - time.monotonic()))
            msg = json.loads(raw)
            assert msg["type"] == "output", msg
            seen += msg["data"]
        return seen


def test_the_link_is_private(netns_topology: Topology, tmp_path: Path) -> None:
    """The topology on its own: NATS in the hub is reached from a host namespace, and
    nothing of it exists in the root namespace (no address, no interface, no route)."""
    topo = netns_topology
    nats = NamespacedNats(topo.hub, tmp_path / "js", tmp_path / "nats.log").start()
    try:
        for host in (topo.a, topo.b):
            # TCP to the hub's NATS from each host namespace (bash's /dev/tcp: no extra tool needed)
            probe = host.run("bash", "-c", f"exec 3<>/dev/tcp/{topo.hub.ip}/{nats.port} && head -c 4 <&3")
            assert probe.stdout == "INFO", probe
            assert "unreachable" in host.run("ip", "route", "get", "192.0.2.1").stderr.lower()
        root = "".join(
            subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout
            for args in (["-o", "addr", "show"], ["-o", "link", "show"], ["route", "show", "table", "all"])
        )
        assert topo.subnet + "." not in root and f"wws{topo.tag}" not in root
        hub_links = topo.hub.run("ip", "-o", "link", "show").stdout
        assert f"wws{topo.tag}va" in hub_links and f"wws{topo.tag}vb" in hub_links
    finally:
        nats.stop()


async def test_one_api_reaches_workspaces_on_two_hosts(two_hosts: TwoHosts, base_image: str) -> None:
    stack = two_hosts
    a, b = stack.hosts["a"], stack.hosts["b"]
    timer = Timer()
    async with stack.client(timeout=300) as api:
        # the host list: both live, each with its gateway on the private link
        hosts = {h["id"]: h for h in (await api.get("/api/v1/hosts")).json()["items"]}
        for host in (a, b):
            view = hosts[host.host_id]
            assert view["status"] == "live", view
            assert view["address"] == f"http://{host.ns.ip}:{GATEWAY_PORT}", view
            assert _in_subnet(view["address"], stack.topo), view

        # one workspace on each host
        wa, wb = await asyncio.gather(
            _create(api, "two-a", base_image, a.host_id), _create(api, "two-b", base_image, b.host_id)
        )
        timer.mark("both running")
        assert [c["Names"] for c in containers_of(a.host_id)] == [[f"wws-{wa['id']}"]]
        assert [c["Names"] for c in containers_of(b.host_id)] == [[f"wws-{wb['id']}"]]

        payload = os.urandom(300_000) + b"\0\r\n\xff end"
        for ws in (wa, wb):
            wid = ws["id"]
            # exec
            r = await _exec_hostname(api, wid)
            assert r.status_code == 200, r.text
            result = r.json()
            assert result["exit_code"] == 0 and result["stdout"].strip() == ws["name"], result
            # the terminal
            assert "hi-42" in await _terminal(stack, wid)
            # files: raw upload, byte-identical download
            put = await api.put(f"/api/v1/workspaces/{wid}/files/content", params={"path": "x.bin"}, content=payload)
            assert put.status_code == 201, put.text
            assert put.json()["size"] == len(payload), put.json()
            got = await api.get(f"/api/v1/workspaces/{wid}/files/content", params={"path": "x.bin"})
            assert got.status_code == 200, got.text[:300]
            assert got.content == payload
            # metrics
            m = await api.get(f"/api/v1/workspaces/{wid}/metrics")
            assert m.status_code == 200, m.text
            assert m.json()["workspace_id"] == wid
        timer.mark("exec, terminal, files, metrics on both")

        # host b goes away: its workspace is unreachable (503), a's still answers
        stack.stop_agent("b")
        timer.mark("agent b stopped")
        statuses: list[int] = []

        async def b_refused() -> bool:
            r = await _exec_hostname(api, wb["id"])
            statuses.append(r.status_code)
            return r.status_code == 503

        await eventually(b_refused, timeout=WAIT_MEDIUM, interval=0.1, what=f"503 for b's workspace ({statuses})")
        timer.mark("503 for b")
        r = await _exec_hostname(api, wb["id"])
        assert r.status_code == 503 and b.host_id in r.json()["detail"], r.text
        assert (await api.get(f"/api/v1/workspaces/{wb['id']}/metrics")).status_code == 503
        r = await _exec_hostname(api, wa["id"])
        assert r.status_code == 200 and r.json()["stdout"].strip() == "two-a", r.text
        assert "hi-42" in await _terminal(stack, wa["id"])
        hosts = {h["id"]: h for h in (await api.get("/api/v1/hosts")).json()["items"]}
        assert hosts[a.host_id]["status"] == "live" and hosts[b.host_id]["status"] != "live", hosts
    print(f"\ntwo hosts: {timer.report()}; statuses seen for b after its stop: {statuses}")
