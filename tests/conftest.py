"""Test configuration: fixtures live in tests/fixtures and are registered here."""

from __future__ import annotations

import os

os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.podman", "tests.fixtures.services"]

from wws_service import logging as _wlog  # noqa: E402 - after the environment default above

# Tests log to the console like the services do in development, and never print locals.
_wlog.configure(service="test", level="info", fmt="console")
