"""Test configuration: fixtures live in tests/fixtures and are registered here."""

from __future__ import annotations

import os

os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.podman",
    "tests.fixtures.services",
    "tests.fixtures.git",
    "tests.fixtures.idp",
    "tests.fixtures.netns",
]

from wws_service import logging as _wlog  # noqa: E402 - after the environment default above

# Tests log to the console like the services do in development, and never print locals.
_wlog.configure(service="test", level="info", fmt="console")

from opentelemetry import trace as _trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider as _TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor as _Simple  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter as _Mem  # noqa: E402

# One tracer provider for the test process; tests read finished spans from SPANS.
SPANS = _Mem()
_provider = _TracerProvider()
_provider.add_span_processor(_Simple(SPANS))
_trace.set_tracer_provider(_provider)
