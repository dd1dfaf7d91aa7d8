"""Workspace images on real Podman: the content-hash cache, and the dev image with every
language (built once, then cached across test runs by its content hash)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from wws_images import LANGUAGES, builder, ensure_dev_image, image_for_languages
from wws_images.builder import Built

pytestmark = pytest.mark.e2e

# A cold build of the IDE and all-languages images takes minutes (see images/README.md).
BUILD_TIMEOUT = 1200
CODE_SERVER_FLAGS = ["--bind-addr", "0.0.0.0:8080", "--auth", "none", "--disable-telemetry", "--disable-update-check"]


def _run_in(image: str, script: str) -> str:
    proc = subprocess.run(
        ["podman", "run", "--rm", image, "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{script!r} failed: {proc.stdout}{proc.stderr}"
    return proc.stdout


def _labels(image: str) -> dict[str, str]:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Labels}}", image],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_base_rebuild_of_unchanged_inputs_is_a_noop() -> None:
    first = builder.build(builder.BASE, quiet=True)
    t0 = time.monotonic()
    again = builder.build(builder.BASE, quiet=True)
    elapsed = time.monotonic() - t0
    assert again.cached
    assert elapsed < 10
    assert again.hash_ref == first.hash_ref
    assert again.hash_ref.startswith("localhost/wws-base:h-")
    assert again.ref == "localhost/wws-base:bookworm"


@pytest.fixture(scope="module")
def dev_image() -> Built:
    """``localhost/wws-dev:go-node-python-rust``: minutes when cold, a no-op when cached."""
    return ensure_dev_image(LANGUAGES, quiet=True)


@pytest.fixture
def code_server(dev_image: Built) -> Iterator[str]:
    """code-server as WWS's init starts it, published on a loopback port; yields its URL."""
    port = _free_port()
    name = f"wws-test-cs-{uuid.uuid4().hex[:10]}"
    cmd = ["podman", "run", "-d", "--init", "--name", name, "-p", f"127.0.0.1:{port}:8080", dev_image.ref]
    subprocess.run([*cmd, "code-server", *CODE_SERVER_FLAGS, "/home/dev"], check=True, capture_output=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False, capture_output=True)


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_dev_image_is_cached_by_content_hash(dev_image: Built) -> None:
    assert dev_image.ref == image_for_languages(LANGUAGES) == "localhost/wws-dev:go-node-python-rust"
    assert dev_image.hash_ref.startswith("localhost/wws-dev:h-")
    t0 = time.monotonic()
    again = ensure_dev_image(reversed(LANGUAGES), quiet=True)
    assert again.cached
    assert time.monotonic() - t0 < 10
    assert again.hash_ref == dev_image.hash_ref
    labels = _labels(dev_image.hash_ref)
    assert labels["io.wws.image"] == "dev"
    assert labels["io.wws.languages"] == "go node python rust"
    assert labels[builder.INPUTS_LABEL] == dev_image.inputs


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_dev_image_has_every_toolchain_and_debians_node(dev_image: Built) -> None:
    checks = {
        "uid": "id -u",
        "pwd": "pwd",
        "path": "echo $PATH",
        "which_node": "command -v node",
        "node": "node --version",
        "python": "python3 --version",
        "go": "go version",
        "rustc": "rustc --version",
        "cargo": "cargo --version",
        "code_server": "code-server --version | tail -n 1",  # first run also logs "Wrote default config"
        "pip": "python3 -m venv /tmp/venv && /tmp/venv/bin/pip --version",
        "rust_run": "cd /tmp && echo 'fn main() { println!(\"hi-rust\"); }' > m.rs && rustc -o m m.rs && ./m",
        "go_run": 'cd /tmp && printf \'package main\\nimport "fmt"\\nfunc main() { fmt.Println("hi-go") }\\n\' > h.go'
        " && go run h.go",
        "node_run": "node -e 'console.log(\"hi-node\")'",
    }
    script = "set -e; " + " ".join(f'echo "{key}=$({cmd})";' for key, cmd in checks.items())
    out = _run_in(dev_image.ref, script)
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert got["uid"] == "1000"
    assert got["pwd"] == "/home/dev"
    assert "/opt/node" not in got["path"]  # code-server's Node 24 stays private
    assert got["which_node"] == "/usr/bin/node"
    assert got["node"].startswith("v18."), got["node"]  # Debian's node, not code-server's v24
    assert got["python"].startswith("Python 3.")
    assert got["go"].startswith("go version go1.")
    assert got["rustc"].startswith("rustc 1.")
    assert got["cargo"].startswith("cargo 1.")
    pinned = _labels(dev_image.hash_ref)["io.wws.code-server"]
    assert got["code_server"].startswith(f"{pinned} "), got["code_server"]  # "4.x.y <commit> with Code 1.x.y"
    assert pinned.startswith("4.")
    assert got["pip"].startswith("pip "), out
    assert (got["rust_run"], got["go_run"], got["node_run"]) == ("hi-rust", "hi-go", "hi-node"), out


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_code_server_has_wws_flags_and_answers_healthz(dev_image: Built, code_server: str) -> None:
    helptext = _run_in(dev_image.ref, "code-server --help")
    for flag in (f for f in CODE_SERVER_FLAGS if f.startswith("--")):
        assert flag in helptext, flag
    deadline = time.monotonic() + 60
    body = ""
    while '"status"' not in body:  # early answers can be an HTML "Cannot GET /healthz"
        assert time.monotonic() < deadline, f"code-server never answered /healthz: {body!r}"
        try:
            body = httpx.get(f"{code_server}/healthz", timeout=2).text
        except httpx.TransportError:
            body = ""
        if '"status"' not in body:
            time.sleep(0.1)
    assert "status" in json.loads(body)
    page = httpx.get(f"{code_server}/", follow_redirects=True, timeout=10)
    assert page.status_code == 200  # --auth none: the workbench, no login page
    assert "login" not in str(page.url)
