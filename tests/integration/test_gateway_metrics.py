"""Workspace metrics from real Podman containers, served over real HTTP (uvicorn + Litestar)
by the gateway's metrics route."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.fixtures.services import serve_asgi
from tests.integration.workspace_containers import podman, start_workspace, with_claims
from tests.timeouts import WAIT_MEDIUM, WAIT_SHORT, eventually
from wws_events.gateway import GatewayClaims
from wws_provisioner.gateway.context import GatewayContext, GatewayError, problem_response
from wws_provisioner.gateway.metrics import MetricsSampler, metrics_router
from wws_provisioner.runtime.podman import PodmanRuntime
from wws_provisioner.settings import ProvisionerSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ORG = "org-metrics"
SAMPLE_FIELDS = {
    "at",
    "cpu_percent",
    "cpu_limit_percent",
    "memory_bytes",
    "memory_limit_bytes",
    "disk_bytes",
    "disk_limit_bytes",
    "net_rx_bytes",
    "net_tx_bytes",
    "pids",
    "uptime_s",
}


class NoActivity:
    def note(self, workspace_id: uuid.UUID, org_id: str, source: str) -> None:
        raise AssertionError("looking at metrics is not activity")


def claims_from_headers(headers: dict[bytes, bytes]) -> GatewayClaims | None:
    """The claims a test chose (``x-ws``, ``x-scope``); none without ``x-ws``."""
    if b"x-ws" not in headers:
        return None
    now = int(time.time())
    return GatewayClaims(
        iss="wws-api",
        aud="test",
        sub="user:tester",
        org=ORG,
        ws=uuid.UUID(headers[b"x-ws"].decode()),
        scope=headers.get(b"x-scope", b"metrics").decode(),
        iat=now,
        exp=now + 60,
        jti=uuid.uuid4().hex,
    )


@pytest.fixture
def runtime(podman_socket: str, host_id: str) -> Iterator[PodmanRuntime]:
    rt = PodmanRuntime(podman_socket, host_id)
    yield rt
    rt.close()


@pytest.fixture
def sampler(runtime: PodmanRuntime) -> Iterator[MetricsSampler]:
    settings = ProvisionerSettings(
        host_id=runtime.host_id, podman_url=runtime.base_url, metrics_interval_s=0.5, metrics_history=5
    )
    s = MetricsSampler(runtime, settings, disk_interval_s=0.0)
    yield s
    s.close()


@contextlib.asynccontextmanager
async def serve(runtime: PodmanRuntime, sampler: MetricsSampler) -> AsyncIterator[httpx.AsyncClient]:
    ctx = GatewayContext(runtime, ProvisionerSettings(host_id=runtime.host_id), NoActivity())
    app = Litestar(route_handlers=[metrics_router(ctx, sampler)], exception_handlers={GatewayError: problem_response})
    async with (
        serve_asgi(with_claims(app, claims_from_headers), stop_timeout=10) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield client


async def get_metrics(client: httpx.AsyncClient, ws: uuid.UUID, **params: str) -> dict[str, Any]:
    r = await client.get(f"/w/{ws}/metrics", params=params, headers={"x-ws": str(ws)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_running_workspace_is_sampled_and_served(
    runtime: PodmanRuntime, sampler: MetricsSampler, podman_socket: str, host_id: str, base_image: str
) -> None:
    ws = await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image, cpus=0.5, disk_gb=1)
    async with serve(runtime, sampler) as client:
        # nothing sampled yet: the request takes one
        first = await get_metrics(client, ws)
        assert first["workspace_id"] == str(ws) and len(first["history"]) == 1
        cur = first["current"]
        assert set(cur) == SAMPLE_FIELDS and first["history"] == [cur]
        assert cur["memory_bytes"] > 0 and cur["memory_limit_bytes"] == 256 * 2**20
        assert cur["pids"] >= 1 and cur["uptime_s"] > 0
        assert 0 <= cur["cpu_percent"] <= 100 and cur["cpu_limit_percent"] is not None
        assert cur["disk_limit_bytes"] == 2**30 and cur["disk_bytes"] >= 0

        stop = asyncio.Event()
        loop = asyncio.create_task(sampler.run(stop))
        try:

            async def grown() -> dict[str, Any] | None:
                body = await get_metrics(client, ws)
                return body if len(body["history"]) >= 3 else None

            later = await eventually(grown, timeout=WAIT_SHORT, what="three samples")
            assert later["current"]["uptime_s"] > cur["uptime_s"]
            assert [s["at"] for s in later["history"]] == sorted(s["at"] for s in later["history"])

            before = later["current"]["disk_bytes"]
            podman(
                podman_socket, "exec", "-u", "root", f"wws-{ws}", "sh", "-c", "head -c 5M /dev/urandom > /home/dev/blob"
            )

            async def written() -> dict[str, Any] | None:
                body = await get_metrics(client, ws, history="false")
                return body if body["current"]["disk_bytes"] >= before + 5 * 2**20 else None

            assert (await eventually(written, timeout=WAIT_SHORT, what="disk use grown"))["history"] == []

            # the history keeps the last `metrics_history` samples
            await eventually(lambda: _len_at_least(client, ws, 5), timeout=WAIT_SHORT, what="a full history")
            await asyncio.sleep(1.0)
            assert len((await get_metrics(client, ws))["history"]) == 5
        finally:
            stop.set()
            await asyncio.wait_for(loop, WAIT_MEDIUM)


async def _len_at_least(client: httpx.AsyncClient, ws: uuid.UUID, n: int) -> bool:
    return len((await get_metrics(client, ws))["history"]) >= n


async def test_a_stopped_workspace_has_no_current_sample_and_is_forgotten(
    runtime: PodmanRuntime, sampler: MetricsSampler, podman_socket: str, host_id: str, base_image: str
) -> None:
    ws = await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image)
    async with serve(runtime, sampler) as client:
        assert await sampler.sample_all() == 1
        podman(podman_socket, "stop", "-t", "0", f"wws-{ws}")
        body = await get_metrics(client, ws)
        assert body["current"] is None and len(body["history"]) == 1  # kept until the next round
        assert await sampler.sample_all() == 0
        assert await get_metrics(client, ws) == {"workspace_id": str(ws), "current": None, "history": []}
        assert await sampler.sample(ws) is None


async def test_the_route_checks_the_token_and_the_host(
    runtime: PodmanRuntime, sampler: MetricsSampler, podman_socket: str, host_id: str, base_image: str
) -> None:
    ws = await asyncio.to_thread(start_workspace, podman_socket, host_id, base_image)
    async with serve(runtime, sampler) as client:
        url = f"/w/{ws}/metrics"
        assert (await client.get(url)).status_code == 401
        r = await client.get(url, headers={"x-ws": str(ws), "x-scope": "files:read"})
        assert r.status_code == 403 and r.json()["title"] == "the token does not grant metrics"
        assert (await client.get(url, headers={"x-ws": str(uuid.uuid4())})).status_code == 403
        stranger = uuid.uuid4()
        assert (await client.get(f"/w/{stranger}/metrics", headers={"x-ws": str(stranger)})).status_code == 404
        assert (await client.get("/w/not-a-uuid/metrics", headers={"x-ws": str(ws)})).status_code in (400, 404)
