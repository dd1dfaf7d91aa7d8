"""Subdomain routing: which hosts name a workspace app, and the path they become."""

from __future__ import annotations

import uuid

import pytest

from wws_api.subdomains import host_pattern, rewrite

WS = uuid.UUID("0b6f3b5e-8f2a-4c1d-9e7b-3a2f1c0d9e8f")
PATTERN = host_pattern("ws.example.com")


def _scope(host: str, path: str = "/a%20b/c") -> dict[str, object]:
    return {"type": "http", "path": path, "raw_path": path.encode(), "headers": [(b"host", host.encode())]}


@pytest.mark.parametrize(
    ("host", "path"),
    [
        (f"ide--{WS}.ws.example.com", f"/api/v1/workspaces/{WS}/ide/a%20b/c"),
        (f"IDE--{WS}.WS.example.com:443", f"/api/v1/workspaces/{WS}/ide/a%20b/c"),
        (f"3000--{WS}.ws.example.com", f"/api/v1/workspaces/{WS}/ports/3000/a%20b/c"),
    ],
)
def test_a_workspace_app_host_becomes_its_path_route(host: str, path: str) -> None:
    scope = _scope(host)
    assert rewrite(scope, PATTERN)
    assert scope["raw_path"] == path.encode()


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        f"ide--{WS}.ws.example.com.evil.net",
        f"ide--{WS}.other.example.com",
        "ide--not-a-uuid.ws.example.com",
        f"shell--{WS}.ws.example.com",
        f"x.ide--{WS}.ws.example.com",
    ],
)
def test_other_hosts_are_left_alone(host: str) -> None:
    scope = _scope(host)
    assert not rewrite(scope, PATTERN)
    assert scope["path"] == "/a%20b/c"
