"""The embedded stack: NATS and PostgreSQL from wheels, Podman from the host, every WWS
service as a child process, a demo workspace; Ctrl-C stops all of it. Data stays in the
state directory, so the next ``up`` continues where the last one stopped."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from wws_stack.binaries import find
from wws_stack.natsd import NatsServer
from wws_stack.pg import EmbeddedPostgres
from wws_stack.podman_service import PodmanService
from wws_stack.processes import Child, now


def say(msg: str) -> None:
    print(f"[wws] {msg}", flush=True)


class StackConfig:
    """``WWS_STACK_*`` settings of the embedded stack (documented in the README)."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.state_dir = Path(environ.get("WWS_STATE_DIR", ".wws/state")).resolve()
        self.api_port = int(environ.get("WWS_STACK_API_PORT", "8080"))
        self.nats_port = int(environ.get("WWS_STACK_NATS_PORT", "4222"))
        self.podman_socket = Path(environ.get("WWS_STACK_PODMAN_SOCKET", "/run/podman/podman.sock"))
        self.demo = environ.get("WWS_STACK_DEMO", "1") not in ("0", "false", "no")
        self.build_images = environ.get("WWS_STACK_BUILD_IMAGES", "1") not in ("0", "false", "no")
        self.demo_template = environ.get("WWS_STACK_DEMO_TEMPLATE", "base")


SEED_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "base",
        "description": "Debian bookworm, zsh, git, yadm; no network",
        "image": "localhost/wws-base:bookworm",
        "network": "none",
        "ide": False,
    },
    {
        "name": "python",
        "description": "Python 3 with code-server; outbound network",
        "languages": ["python"],
        "network": "egress",
        "ide": True,
    },
    {
        "name": "polyglot",
        "description": "Python, Node, Go and Rust with code-server; outbound network",
        "languages": ["python", "node", "go", "rust"],
        "network": "egress",
        "ide": True,
        "memory_mb": 4096,
        "cpu": 2,
    },
]
"""Templates a fresh stack starts with (created once; edit or delete them freely)."""


def _secret(path: Path, make: Any) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        make(path)
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.state = config.state_dir
        self.logs = self.state / "logs"
        self.nats = NatsServer(
            self.state / "nats" / "jetstream", port=config.nats_port, log_file=self.logs / "nats-server.log"
        )
        self.pg = EmbeddedPostgres(self.state / "pg" / "data")
        self.podman = PodmanService(config.podman_socket, self.logs / "podman-service.log")
        self.children: list[Child] = []
        self._stopping = False
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def _lock(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state / "stack.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"[wws] another stack is already running on {self.state}") from None
        self._lock_fd = fd

    def env(self) -> dict[str, str]:
        token = _secret(self.state / "secrets" / "admin-token", lambda p: p.write_text(secrets.token_urlsafe(32)))
        keys = self.state / "secrets" / "secret-keys"
        _secret(keys, lambda p: p.write_text(f"k1:{base64.b64encode(os.urandom(32)).decode()}"))
        return {
            **os.environ,
            "WWS_NATS_URL": self.nats.url,
            "WWS_DATABASE_URL": self.pg.dsn("wws"),
            "WWS_API_ADMIN_TOKEN": token,
            "WWS_API_HTTP_PORT": str(self.config.api_port),
            "WWS_API_PUBLIC_URL": f"http://127.0.0.1:{self.config.api_port}",
            "WWS_PROVISIONER_PODMAN_URL": self.podman.url,
            "WWS_API_SECRET_KEYS_FILE": str(keys),
            "WWS_AUDIT_SIGNING_KEY_FILE": str(self.state / "secrets" / "audit-signing.pem"),
            "PYTHONUNBUFFERED": "1",
        }

    def up(self) -> int:
        self._lock()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        t0 = time.monotonic()
        try:
            say(f"state directory {self.state}")
            self.nats.start()
            say(f"NATS JetStream on {self.nats.url} (sync_interval: always)")
            self.pg.start()
            if "wws" not in self.pg.psql("SELECT datname FROM pg_database"):
                self.pg.create_database("wws")
            say(f"PostgreSQL (embedded) at {self.pg.dsn('wws')}")
            self.podman.start()
            say(f"Podman API on {self.podman.url}" + (" (started here)" if self.podman.started_here else ""))
            if self.config.build_images:
                from wws_images import builder

                built = builder.build(builder.BASE)
                say(f"image {built.ref} {'present' if built.cached else 'built'}")
            env = self.env()
            self._ensure_signing_key(env["WWS_AUDIT_SIGNING_KEY_FILE"])
            self._spawn(env)
            self._wait_healthy(env)
            say(f"stack up in {time.monotonic() - t0:.1f}s")
            self._seed_templates(env)
            if self.config.demo:
                self._demo(env)
            self._print_help(env)
            return self._watch()
        finally:
            self.down()

    def _ensure_signing_key(self, path: str) -> None:
        if not Path(path).exists():
            subprocess.run([str(find("wws-audit")), "keygen", path], check=True, stdout=subprocess.DEVNULL)

    def _spawn(self, env: dict[str, str]) -> None:
        specs = [
            ("api", [str(find("wws-api")), "serve"]),
            ("provisioner", [str(find("wws-provisioner"))]),
            ("reaper", [str(find("wws-reaper"))]),
            ("audit", [str(find("wws-audit")), "serve"]),
        ]
        for name, argv in specs:
            child = Child(name=name, argv=argv, env=env, log_file=self.logs / f"{name}.log")
            child.start()
            self.children.append(child)
            say(f"started {name} (pid {child.proc.pid if child.proc else '?'}, log {child.log_file})")

    def _api(
        self,
        env: dict[str, str],
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, Any]:
        req = urllib.request.Request(  # noqa: S310 - our own loopback API
            f"{env['WWS_API_PUBLIC_URL']}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {env['WWS_API_ADMIN_TOKEN']}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our own loopback API
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def _wait_healthy(self, env: dict[str, str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in self.children:
                if not child.alive():
                    raise SystemExit(f"[wws] {child.name} exited during start-up:\n{child.tail()}")
            try:
                status, body = self._api(env, "GET", "/api/v1/health", timeout=2)
                if status == 200:
                    hosts = self._api(env, "GET", "/api/v1/hosts", timeout=2)[1]
                    if any(h["status"] == "live" for h in hosts.get("items", [])):
                        say(f"API healthy (version {body['version']}), host agent live")
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        raise SystemExit("[wws] the API did not become healthy; see the logs in " + str(self.logs))

    def _seed_templates(self, env: dict[str, str]) -> None:
        status, body = self._api(env, "GET", "/api/v1/templates?limit=500")
        if status != 200 or body.get("items"):
            return  # not a fresh stack: the operator's templates are theirs
        for template in SEED_TEMPLATES:
            status, body = self._api(env, "POST", "/api/v1/templates", template)
            if status not in (200, 201, 409):
                say(f"template {template['name']} could not be created: {status} {body}")
        say("templates: " + ", ".join(t["name"] for t in SEED_TEMPLATES))

    def _demo(self, env: dict[str, str]) -> None:
        status, body = self._api(env, "GET", "/api/v1/workspaces?limit=500")
        existing = next((w for w in body.get("items", []) if w["name"] == "demo"), None) if status == 200 else None
        if existing is not None and existing["status"] == "running":
            say(f"demo workspace {existing['id']} is running")
            self.demo_id = existing["id"]
            return
        if existing is not None and existing["status"] in ("stopped", "failed"):
            say("starting the demo workspace")
            status, body = self._api(
                env, "POST", f"/api/v1/workspaces/{existing['id']}/start?wait=running", timeout=180
            )
        elif existing is None:
            template = self.config.demo_template
            say(f"creating the demo workspace from template {template!r} (1 CPU, 1 GiB, 5 GiB home)")
            status, body = self._api(
                env,
                "POST",
                "/api/v1/workspaces?wait=running&wait_timeout=900",
                {"name": "demo", "template": template, "cpu": 1, "memory_mb": 1024, "disk_gb": 5},
                headers={"Idempotency-Key": "wws-stack-demo"},
                timeout=920,
            )
        else:
            body = existing
        if status not in (200, 202):
            say(f"demo workspace could not be created: {status} {body}")
            return
        ws = body if "id" in body else body.get("workspace", {})
        self.demo_id = ws.get("id")
        self.demo_ide = bool(ws.get("ide"))
        say(f"demo workspace {ws.get('id')} is {ws.get('status')}")

    def _print_help(self, env: dict[str, str]) -> None:
        url = env["WWS_API_PUBLIC_URL"]
        token_file = self.state / "secrets" / "admin-token"
        demo = getattr(self, "demo_id", None)
        lines = [
            "",
            f"  API           {url}/api/v1   (OpenAPI: {url}/api/v1/openapi.json, docs: {url}/api/v1/schema/swagger)",
            f"  token         export WWS_TOKEN=$(cat {token_file})   (bootstrap token: the first owner, 'admin')",
            *self._login_link(env),
            f'  list          curl -s -H "Authorization: Bearer $WWS_TOKEN" {url}/api/v1/workspaces',
        ]
        if demo:
            lines += [
                *(
                    [f"  IDE           {url}/api/v1/workspaces/{demo}/ide/   (log in with the browser link first)"]
                    if getattr(self, "demo_ide", False)
                    else []
                ),
                f"  terminal      WS {url.replace('http', 'ws', 1)}/api/v1/workspaces/{demo}/terminal   (or: podman exec -it wws-{demo} zsh)",
                f'  exec          curl -s -H "Authorization: Bearer $WWS_TOKEN" -H "Content-Type: application/json" -d \'{{"argv":["uname","-a"]}}\' {url}/api/v1/workspaces/{demo}/exec',
                f"  stop          curl -s -X POST -H \"Authorization: Bearer $WWS_TOKEN\" '{url}/api/v1/workspaces/{demo}/stop?wait=stopped'",
            ]
        lines += [
            f"  audit         WWS_DATABASE_URL='{env['WWS_DATABASE_URL']}' uv run wws-audit verify",
            f"  logs          {self.logs}/",
            "",
            "  Ctrl-C stops everything started here; data stays in the state directory.",
            "",
        ]
        print("\n".join(lines), flush=True)

    def _login_link(self, env: dict[str, str]) -> list[str]:
        """A one-time browser login for the first owner (15 minutes); nothing when it fails."""
        out = subprocess.run(
            [str(find("wws-api")), "login-link"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        link = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
        return [f"  browser       {link}   (one-time login link, 15 min; new one: wws-api login-link)"] if link else []

    def _watch(self) -> int:
        while not self._stopping:
            for child in self.children:
                if child.alive() or self._stopping:
                    continue
                code = child.proc.returncode if child.proc else None
                if child.may_restart(now()):
                    say(f"{child.name} exited ({code}); restarting. Last lines:\n{child.tail(8)}")
                    child.start()
                else:
                    say(f"{child.name} keeps dying; stopping the stack. Last lines:\n{child.tail()}")
                    return 1
            time.sleep(0.5)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return
        self._stopping = True
        say("stopping…")

    def down(self) -> None:
        self._stopping = True
        for child in reversed(self.children):
            child.stop()
        self.podman.stop()
        self.pg.stop()
        self.nats.stop()
        say("stopped")


def up() -> int:
    return Stack(StackConfig(dict(os.environ))).up()


def env_exports() -> int:
    stack = Stack(StackConfig(dict(os.environ)))
    token_file = stack.state / "secrets" / "admin-token"
    if not token_file.exists():
        print("no stack state yet; run ./just up first", file=sys.stderr)
        return 1
    socket_dir = stack.state / "pg" / "data"
    print(f"export WWS_NATS_URL=nats://127.0.0.1:{stack.config.nats_port}")
    print(f"export WWS_DATABASE_URL='postgresql://postgres@/wws?host={socket_dir}'")
    print(f"export WWS_TOKEN=$(cat {token_file})")
    print(f"export WWS_API_URL=http://127.0.0.1:{stack.config.api_port}")
    return 0
