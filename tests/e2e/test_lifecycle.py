"""End to end on real Podman: the API and the agent as processes, NATS and PostgreSQL as
real servers. A workspace's home survives stop/start and rebuild; delete removes it all."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.fixtures.podman import containers_of, read_file_in, volumes_of, write_file_in
from tests.fixtures.services import ProcessStack

pytestmark = pytest.mark.e2e


def _inspect(name: str) -> dict[str, Any]:
    out = subprocess.run(["podman", "inspect", name], check=True, capture_output=True).stdout
    return json.loads(out)[0]


def test_create_stop_start_rebuild_delete_keeps_home_until_delete(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.wait_ready()
    with stack.client() as api:
        r = api.post(
            "/api/v1/workspaces?wait=running", json={"name": "e2e", "cpu": 0.5, "memory_mb": 256, "disk_gb": 1}
        )
        assert r.status_code == 200, r.text
        ws = r.json()
        name = f"wws-{ws['id']}"

        info = _inspect(name)
        host = info["HostConfig"]
        assert info["State"]["Running"]
        assert info["Config"]["Labels"]["wws.workspace"] == ws["id"]
        assert info["Config"]["Labels"]["wws.generation"] == "1"
        assert info["Config"]["Labels"]["wws.command"] == ws["last_command_id"]
        assert host["Memory"] == 256 * 2**20
        assert host["CpuQuota"] == 50_000 and host["CpuPeriod"] == 100_000
        assert host["PidsLimit"] == 4096
        assert host["NetworkMode"] == "none"
        assert "no-new-privileges" in host["SecurityOpt"]
        caps = subprocess.run(
            ["podman", "exec", name, "grep", "CapEff", "/proc/self/status"], capture_output=True, text=True, check=True
        ).stdout
        assert caps.split()[1] == "0000000000000000"  # cap-drop ALL, nothing added back
        assert (
            subprocess.run(
                ["podman", "exec", name, "id", "-u"], capture_output=True, text=True, check=True
            ).stdout.strip()
            == "1000"
        )

        write_file_in(name, "/home/dev/notes.txt", "keep me\n")

        r = api.post(f"/api/v1/workspaces/{ws['id']}/stop?wait=stopped")
        assert r.status_code == 200 and r.json()["status"] == "stopped", r.text
        assert not _inspect(name)["State"]["Running"]

        r = api.post(f"/api/v1/workspaces/{ws['id']}/start?wait=running")
        assert r.status_code == 200, r.text
        assert read_file_in(name, "/home/dev/notes.txt") == "keep me\n"

        old_container = _inspect(name)["Id"]
        r = api.post(f"/api/v1/workspaces/{ws['id']}/rebuild?wait=running")
        assert r.status_code == 200, r.text
        assert r.json()["generation"] == 2
        assert _inspect(name)["Id"] != old_container
        assert _inspect(name)["Config"]["Labels"]["wws.generation"] == "2"
        assert read_file_in(name, "/home/dev/notes.txt") == "keep me\n"

        r = api.delete(f"/api/v1/workspaces/{ws['id']}?wait=deleted")
        assert r.status_code == 200 and r.json()["status"] == "deleted", r.text
        assert containers_of(stack.host_id) == []
        assert volumes_of(stack.host_id) == []


def test_missing_image_fails_with_a_reason_and_can_be_deleted(process_stack: ProcessStack) -> None:
    stack = process_stack
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.wait_ready()
    with stack.client() as api:
        r = api.post("/api/v1/workspaces?wait=running", json={"name": "noimg", "image": "localhost/does-not-exist:1"})
        assert r.status_code == 502, r.text
        problem = r.json()
        assert problem["workspace"]["status"] == "failed"
        assert problem["workspace"]["last_error"]["code"] == "image_not_found"
        r = api.delete(f"/api/v1/workspaces/{problem['workspace']['id']}?wait=deleted")
        assert r.status_code == 200, r.text
        assert containers_of(stack.host_id) == [] and volumes_of(stack.host_id) == []


def test_a_missing_wws_image_is_built_by_the_agent(process_stack: ProcessStack) -> None:
    """Templates name languages, not registry images: the host builds the dev image the
    first time a workspace needs it (here the code-server-only one; its parents are cached
    by earlier tests or built here)."""
    stack = process_stack
    image = "localhost/wws-dev:ide"
    # only the alias goes: the content-hash tag stays, so the rebuild is the builder's no-op path
    subprocess.run(["podman", "untag", image, image], capture_output=True, check=False)
    assert subprocess.run(["podman", "image", "exists", image], check=False).returncode == 1
    stack.start("api", "serve")
    stack.start("provisioner")
    stack.wait_ready()
    with stack.client(timeout=900) as api:
        r = api.post(
            "/api/v1/workspaces?wait=running&wait_timeout=600",
            json={"name": "built", "languages": [], "ide": False, "network": "none"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["image"] == image
        assert _inspect(f"wws-{r.json()['id']}")["ImageName"] == image
        assert api.delete(f"/api/v1/workspaces/{r.json()['id']}?wait=deleted").status_code == 200
