"""What happens inside a workspace, end to end on real Podman: a template with toolchains
and code-server, a private repository cloned over real HTTP with a token (git
http-backend), yadm dotfiles, bootstrap scripts, devcontainer.json in its shapes, and the
token nowhere it must not be."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import asyncpg
import pytest

from tests.fixtures.git import DotfilesRepo, GitHubStub, GitServer
from tests.fixtures.services import ProcessStack
from tests.timeouts import WAIT_LONG, eventually_sync

pytestmark = pytest.mark.e2e
LOOPBACK = "host.wws.internal"  # how a workspace reaches this host's loopback (allowed in tests)
READY_WAIT = 420.0  # a cold dev image build on a fresh machine takes about 3 minutes


def _exec(container: str, *argv: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--user", user] if user else []
    return subprocess.run(["podman", "exec", *extra, container, *argv], capture_output=True, text=True, check=False)


def _sh(container: str, script: str) -> str:
    out = _exec(container, "sh", "-c", script)
    assert out.returncode == 0, (script, out.stdout, out.stderr)
    return out.stdout


def _ready(stack: ProcessStack, ws: str, timeout: float = READY_WAIT) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        with stack.client() as api:
            view = api.get(f"/api/v1/workspaces/{ws}").json()
        if view["status"] == "failed":
            raise AssertionError(f"workspace failed: {view['last_error']}")
        return view if view["ready"] else None

    return eventually_sync(check, timeout=timeout, interval=0.5, what="workspace ready")


def _events(stack: ProcessStack, ws: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT event_type, body FROM wws_events WHERE stream_id = $1 ORDER BY stream_version", ws
            )
            return [{"type": r["event_type"], **json.loads(r["body"])["data"]} for r in rows]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _all_text_in_log(stack: ProcessStack) -> str:
    async def fetch() -> str:
        conn = await asyncpg.connect(stack.pg_dsn)
        try:
            bodies = await conn.fetch("SELECT body FROM wws_events")
            outbox = await conn.fetch("SELECT body FROM wws_commands")
            return "\n".join(r["body"] for r in [*bodies, *outbox])
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _start(stack: ProcessStack, **env: str) -> None:
    stack.start("api", "serve")
    stack.start("provisioner", WWS_PROVISIONER_INIT_TIMEOUT_S="300", **env)
    stack.wait_ready()


def test_template_repo_dotfiles_bootstrap_toolchains_ide_and_the_token_nowhere(
    process_stack: ProcessStack, git_server: GitServer, dotfiles_repo: DotfilesRepo
) -> None:
    stack = process_stack
    _start(stack)
    git_server.create_repo(
        "acme/api", {"README.md": "# api\n", "Makefile": "deps:\n\techo deps > .deps-done\n"}, branch="main"
    )
    token = git_server.token
    with stack.client(timeout=600) as api:
        r = api.post(
            "/api/v1/templates",
            json={
                "name": "full",
                "languages": ["python", "node", "go", "rust"],
                "bootstrap": "#!/bin/sh\nset -e\necho template-bootstrap > $HOME/template-ran\n",
                "env": {"WWS_TEMPLATE_ENV": "yes"},
                "memory_mb": 1024,
                "cpu": 1,
                "disk_gb": 2,
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["image"] == "localhost/wws-dev:go-node-python-rust"
        r = api.post(
            "/api/v1/workspaces?wait=running&wait_timeout=500",
            json={
                "name": "full-ws",
                "template": "full",
                "repository": {"url": git_server.url("acme/api", host=LOOPBACK), "branch": "main", "token": token},
                "dotfiles": {"url": dotfiles_repo.url.replace("127.0.0.1", LOOPBACK)},
                "bootstrap": "cd ~/src/api && make deps && echo workspace-bootstrap > $HOME/workspace-ran",
            },
        )
        assert r.status_code == 200, r.text
        ws = r.json()
    view = _ready(stack, ws["id"])
    assert view["degraded"] is False, view
    assert view["template"] == "full" and view["template_version"] == 1
    assert view["repository"]["has_credential"] is True and "token" not in json.dumps(view)
    name = f"wws-{ws['id']}"

    # the repository, cloned into ~/src/<name> with the token handed over by the helper
    assert _sh(name, "cat ~/src/api/README.md") == "# api\n"
    assert _sh(name, "cat ~/src/api/.deps-done").strip() == "deps"
    # dotfiles with yadm, and its bootstrap
    assert dotfiles_repo.marker_line in _sh(name, "cat ~/.zshrc")
    assert _exec(name, "test", "-f", "/home/dev/.dotfiles-bootstrapped").returncode == 0
    # bootstrap scripts: the template's, then the workspace's
    assert _sh(name, "cat ~/template-ran").strip() == "template-bootstrap"
    assert _sh(name, "cat ~/workspace-ran").strip() == "workspace-bootstrap"
    assert _sh(name, "echo $WWS_TEMPLATE_ENV").strip() == "yes"
    # the toolchains asked for
    for argv in (
        ["python3", "--version"],
        ["node", "--version"],
        ["go", "version"],
        ["rustc", "--version"],
        ["cargo", "--version"],
    ):
        assert _exec(name, *argv).returncode == 0, argv
    # code-server answers inside the workspace and through the API's proxy, and is not
    # published on the host at all
    assert '"status"' in _sh(name, "curl -s http://127.0.0.1:8080/healthz")
    assert view["ide_port"] is None
    with stack.client(timeout=30) as api:
        assert "status" in api.get(f"/api/v1/workspaces/{ws['id']}/ide/healthz").json()
    ports = json.loads(
        subprocess.run(
            ["podman", "inspect", name, "--format", "{{json .NetworkSettings.Ports}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert not ports or not ports.get("8080/tcp"), ports
    # git in the workspace can push with the injected token (the user's own git, later)
    _sh(
        name,
        "cd ~/src/api && git -c user.name=t -c user.email=t@x commit --allow-empty -qm wws && git push -q origin main",
    )
    assert len(git_server.commits("acme/api")) == 2

    # the token appears nowhere: home volume, image, container config, events, outbox, logs, ps
    volume = subprocess.run(
        ["podman", "volume", "inspect", f"wws-home-{ws['id']}", "--format", "{{.Mountpoint}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert subprocess.run(["grep", "-rIl", token, volume], capture_output=True, check=False).returncode == 1, (
        "token in the home volume"
    )
    inspect = subprocess.run(["podman", "inspect", name], capture_output=True, text=True, check=True).stdout
    assert token not in inspect, "token in the container's configuration"
    image_inspect = subprocess.run(
        ["podman", "image", "inspect", view["image"]], capture_output=True, text=True, check=True
    ).stdout
    assert token not in image_inspect
    assert token not in _all_text_in_log(stack), "token in the event log or the outbox"
    for proc in stack.procs.values():
        assert token not in proc.output(), f"token in the {proc.name} log"
    assert token not in _sh(name, "ps -eo args"), "token in the workspace's process list"
    assert token not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True, check=False)
    assert token not in logs.stdout + logs.stderr

    # every init step was reported, with durations
    events = _events(stack, ws["id"])
    done = {(e["step"], e["name"]) for e in events if e["type"] == "workspace.init_step_succeeded"}
    assert {
        ("repository", "clone"),
        ("dotfiles", "clone"),
        ("dotfiles", "bootstrap"),
        ("bootstrap", "template"),
        ("bootstrap", "workspace"),
        ("ide", "code-server"),
    } <= done
    finished = [e for e in events if e["type"] == "workspace.init_finished"]
    assert finished and finished[-1]["degraded"] is False

    # a later start leaves the working tree alone
    _sh(name, "echo local-change > ~/src/api/LOCAL")
    with stack.client(timeout=120) as api:
        assert api.post(f"/api/v1/workspaces/{ws['id']}/restart?wait=running").status_code == 200
    _ready(stack, ws["id"])
    assert _sh(name, "cat ~/src/api/LOCAL").strip() == "local-change"


def test_failing_bootstrap_is_recorded_and_the_workspace_runs_degraded(process_stack: ProcessStack) -> None:
    stack = process_stack
    _start(stack)
    with stack.client(timeout=120) as api:
        r = api.post(
            "/api/v1/workspaces?wait=running",
            json={
                "name": "bad-boot",
                "network": "egress",
                "bootstrap": "echo about to fail\necho details >&2\nexit 7\n",
            },
        )
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
    view = _ready(stack, ws, timeout=WAIT_LONG)
    assert view["status"] == "running" and view["degraded"] is True
    assert view["failed_steps"] == ["bootstrap:workspace"]
    (failed,) = [e for e in _events(stack, ws) if e["type"] == "workspace.init_step_failed"]
    assert failed["exit_code"] == 7 and failed["step"] == "bootstrap"
    assert "details" in failed["output_tail"] and "about to fail" in failed["output_tail"]


def test_new_github_repository_is_created_and_cloned(process_stack: ProcessStack, github_stub: GitHubStub) -> None:
    """GitHub's REST API is stood in by a local server (GitHub is not reachable here); the
    repository it creates lives on the real git http-backend server."""
    stack = process_stack
    _start(stack)
    github_stub.clone_host = LOOPBACK
    api_url = github_stub.api_url.replace("127.0.0.1", LOOPBACK)
    with stack.client(timeout=120) as api:
        r = api.post(
            "/api/v1/workspaces?wait=running",
            json={
                "name": "fresh",
                "repository": {
                    "create": {"name": "brand-new", "private": True, "api_url": api_url},
                    "token": github_stub.token,
                },
            },
        )
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
    _ready(stack, ws, timeout=WAIT_LONG)
    assert [c["name"] for c in github_stub.created] == ["brand-new"]
    assert _sh(f"wws-{ws}", "cat ~/src/brand-new/README.md")


DOCKERFILE = """FROM localhost/wws-base:bookworm
ARG GREETING=unset
USER root
RUN echo "$GREETING" > /etc/wws-dc-marker
USER dev
"""


@pytest.mark.parametrize(
    "shape",
    ["image", "dockerfile", "lifecycle"],
)
def test_devcontainer_json_drives_the_workspace(process_stack: ProcessStack, git_server: GitServer, shape: str) -> None:
    stack = process_stack
    _start(stack)
    files: dict[str, str] = {"README.md": "hi\n"}
    if shape == "image":
        files[".devcontainer/devcontainer.json"] = """{
          // image-based, like devcontainers/templates src/debian
          "name": "image",
          "image": "localhost/wws-base:bookworm",
          "containerEnv": {"DC_FOO": "bar", "DC_FOLDER": "${containerWorkspaceFolder}"},
          "remoteEnv": {"DC_REMOTE": "remote-${localEnv:WS_TEAM:none}"},
          "postCreateCommand": "echo created-$DC_REMOTE > ~/post-create",
          "features": {"ghcr.io/devcontainers/features/go:1": {}},
          "customizations": {"vscode": {"extensions": []}, "jetbrains": {}},
        }"""
    elif shape == "dockerfile":
        files[".devcontainer/Dockerfile"] = DOCKERFILE
        files[".devcontainer/devcontainer.json"] = """{
          "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"GREETING": "hello-from-build"}},
          "postStartCommand": ["sh", "-c", "echo started >> $HOME/post-start"],
        }"""
    else:
        files[".devcontainer.json"] = """{
          "image": "localhost/wws-base:bookworm",
          "onCreateCommand": "echo on-create > ~/on-create",
          "postCreateCommand": {"one": "echo one > ~/pc-one", "two": ["sh", "-c", "echo two > ~/pc-two"]},
          "postStartCommand": "echo start >> ~/post-start",
        }"""
    git_server.create_repo(f"dc-{shape}", files)
    with stack.client(timeout=600) as api:
        r = api.post(
            "/api/v1/workspaces?wait=running&wait_timeout=500",
            json={
                "name": f"dc-{shape}",
                "env": {"WS_TEAM": "platform"},
                "repository": {"url": git_server.url(f"dc-{shape}", host=LOOPBACK), "token": git_server.token},
            },
        )
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
    view = _ready(stack, ws)
    assert view["degraded"] is False, view
    name = f"wws-{ws}"
    events = _events(stack, ws)
    applied = [e for e in events if e["type"] == "workspace.devcontainer_applied"]
    assert applied, [e["type"] for e in events]
    assert view["devcontainer"] and view["devcontainer_error"] is None
    assert _sh(name, "cat ~/README.md 2>/dev/null || cat ~/src/*/README.md").strip() == "hi"
    if shape == "image":
        assert _sh(name, "echo $DC_FOO").strip() == "bar"
        assert _sh(name, "cat ~/post-create").strip() == "created-remote-platform"
        assert any("features" in e["unsupported"] and "customizations.jetbrains" in e["unsupported"] for e in applied)
    elif shape == "dockerfile":
        assert _sh(name, "cat /etc/wws-dc-marker").strip() == "hello-from-build"
        assert view["image"].startswith("localhost/wws-dc-")
        assert _sh(name, "cat ~/post-start").strip() == "started"
    else:
        assert _sh(name, "cat ~/on-create ~/pc-one ~/pc-two").split() == ["on-create", "one", "two"]
        names = {e["name"] for e in events if e["type"] == "workspace.init_step_succeeded" and e["step"] == "lifecycle"}
        assert {"one", "two", "onCreateCommand", "postStartCommand"} <= names
        # postCreate runs once per container, postStart at every start
        with stack.client(timeout=120) as api:
            assert api.post(f"/api/v1/workspaces/{ws}/restart?wait=running").status_code == 200
        _ready(stack, ws)
        assert _sh(name, "cat ~/post-start").split() == ["start", "start"]
        assert _sh(name, "cat ~/pc-one").split() == ["one"]


def test_malformed_devcontainer_json_is_an_error_event_and_nothing_is_lost(
    process_stack: ProcessStack, git_server: GitServer
) -> None:
    stack = process_stack
    _start(stack)
    git_server.create_repo(
        "dc-broken",
        {
            "README.md": "still here\n",
            ".devcontainer/devcontainer.json": '{\n  "image": "x",\n  "postCreateCommand": [1, 2\n}\n',
        },
    )
    with stack.client(timeout=120) as api:
        r = api.post(
            "/api/v1/workspaces?wait=running",
            json={
                "name": "dc-broken",
                "repository": {"url": git_server.url("dc-broken", host=LOOPBACK), "token": git_server.token},
            },
        )
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
    view = _ready(stack, ws, timeout=WAIT_LONG)
    assert view["status"] == "running" and view["degraded"] is True
    assert view["devcontainer_error"]
    (invalid,) = [e for e in _events(stack, ws) if e["type"] == "workspace.devcontainer_invalid"]
    assert invalid["line"] == 4 and invalid["column"] is not None
    assert invalid["source"] == ".devcontainer/devcontainer.json"
    assert _sh(f"wws-{ws}", "cat ~/src/dc-broken/README.md").strip() == "still here"


def test_ide_ports_stay_with_their_workspace_and_never_collide(process_stack: ProcessStack) -> None:
    """The debugging opt-in: code-server also on a host loopback port of its own."""
    stack = process_stack
    _start(stack, WWS_PROVISIONER_PUBLISH_IDE_PORT="true")
    with stack.client(timeout=300) as api:
        ids = []
        for i in range(3):
            r = api.post(
                "/api/v1/workspaces?wait=running",
                json={"name": f"ide-{i}", "image": "localhost/wws-base:bookworm", "ide": True, "network": "egress"},
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        ports = [api.get(f"/api/v1/workspaces/{w}").json()["ide_port"] for w in ids]
        assert len(set(ports)) == 3 and all(stack.ide_base <= p < stack.ide_base + 100 for p in ports)
        assert api.post(f"/api/v1/workspaces/{ids[0]}/stop?wait=stopped").status_code == 200
        assert api.post(f"/api/v1/workspaces/{ids[0]}/start?wait=running").status_code == 200
        assert api.get(f"/api/v1/workspaces/{ids[0]}").json()["ide_port"] == ports[0]
        assert api.delete(f"/api/v1/workspaces/{ids[1]}?wait=deleted").status_code == 200
        r = api.post(
            "/api/v1/workspaces?wait=running",
            json={"name": "ide-new", "image": "localhost/wws-base:bookworm", "ide": True, "network": "egress"},
        )
        assert r.json()["ide_port"] not in (ports[0], ports[2])


def test_personal_secrets_through_the_api_reach_the_workspace_and_nothing_else(process_stack: ProcessStack) -> None:
    """The whole path with real processes: a user stores secrets over HTTP (encrypted at
    rest), the API hands them to the workspace's host at start, the init injects them; a
    grep of the log, the outbox, every service's output, the container's and the image's
    configuration, the process list and the home volume finds no value."""
    stack = process_stack
    _start(stack)
    key, cfg = "sk-e2e-" + "k" * 40, "registry-token-" + "r" * 30
    with stack.client(timeout=120) as api:
        for name, body in (
            ("openai", {"value": key, "inject": "env", "target": "OPENAI_API_KEY"}),
            ("registry", {"value": cfg, "inject": "file", "target": ".config/registry/token"}),
        ):
            r = api.put(f"/api/v1/users/me/secrets/{name}", json=body)
            assert r.status_code == 204, r.text
        r = api.post(
            "/api/v1/workspaces?wait=running", json={"name": "with-secrets", "bootstrap": 'test -n "$OPENAI_API_KEY"'}
        )
        assert r.status_code == 200, r.text
        ws = r.json()["id"]
        assert key not in api.get("/api/v1/users/me/secrets").text
    view = _ready(stack, ws, timeout=WAIT_LONG)
    assert view["degraded"] is False, view  # the bootstrap script saw the variable
    name = f"wws-{ws}"
    assert _sh(name, "zsh -lc 'printf %s \"$OPENAI_API_KEY\"'") == key
    assert _sh(name, "cat ~/.config/registry/token") == cfg
    volume = subprocess.run(
        ["podman", "volume", "inspect", f"wws-home-{ws}", "--format", "{{.Mountpoint}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    everywhere = {
        "event log and outbox": _all_text_in_log(stack),
        "container configuration": subprocess.run(["podman", "inspect", name], capture_output=True, text=True).stdout,
        "image": subprocess.run(["podman", "image", "inspect", view["image"]], capture_output=True, text=True).stdout,
        "workspace processes": _sh(name, "ps -eo args"),
        "host processes": subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout,
        **{f"{p.name} output": p.output() for p in stack.procs.values()},
    }
    for value in (key, cfg):
        for where, text in everywhere.items():
            assert value not in text, f"a secret value in the {where}"
        found = subprocess.run(["grep", "-rl", "--", value, volume], capture_output=True, text=True, check=False)
        assert found.returncode == 1, f"a secret value on the home volume: {found.stdout}"
