"""One trace runs HTTP → outbox/NATS → agent → recorder, and its id is in the events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SPANS
from tests.fixtures.services import InProcessApi, in_process_host
from tests.timeouts import eventually

pytestmark = pytest.mark.integration


async def test_trace_spans_cross_http_nats_and_agent(api: InProcessApi) -> None:
    async with in_process_host(api.settings.nats_url, "h1"):

        async def live() -> bool:
            return any(h["status"] == "live" for h in (await api.client.get("/api/v1/hosts")).json()["items"])

        await eventually(live)
        SPANS.clear()
        r = await api.client.post("/api/v1/workspaces?wait=running", json={"name": "traced"})
        assert r.status_code == 200, r.text
        ws = r.json()["id"]

        def spans_named(prefix: str) -> list[Any]:
            return [s for s in SPANS.get_finished_spans() if s.name.startswith(prefix)]

        await eventually(lambda: _async(bool(spans_named("agent.agent.provision"))))
        await eventually(lambda: _async(bool(spans_named("recorder.record"))))
        (agent,) = spans_named("agent.agent.provision")
        http = [s for s in SPANS.get_finished_spans() if s.kind.name == "SERVER" and "workspaces" in s.name]
        assert http, [s.name for s in SPANS.get_finished_spans()]
        trace_id = agent.context.trace_id
        assert any(s.context.trace_id == trace_id for s in http), "the agent continues the request's trace"
        assert any(s.context.trace_id == trace_id for s in spans_named("recorder.record"))
        row = await api.services.pool.fetchrow(
            "SELECT body FROM wws_events WHERE event_type = 'workspace.created' AND stream_id = $1", ws
        )
        assert f"{trace_id:032x}" in row["body"], "the event carries the traceparent"


async def _async(value: bool) -> bool:
    return value
