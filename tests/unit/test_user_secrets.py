"""The workspace owner's secrets: how the agent writes them to the workspace's tmpfs
directory (and what it refuses), and how the in-workspace init injects them (environment
of its processes, symlinks into the home directory, stale links, reports). Real files in
a temporary directory; the real path through Podman is tests/e2e/test_user_secrets.py."""

from __future__ import annotations

import json
import os
import stat
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

from wws_events import commands as c
from wws_events._base import Actor, tag_of
from wws_events.commands import CommandEnvelope
from wws_events.host import InjectedSecret, SecretsReply
from wws_events.workspace import Resources, WorkspaceSpec
from wws_init import config as init_config
from wws_init import main as init_main
from wws_init import usersecrets
from wws_init.report import Reporter
from wws_init.steps import Steps
from wws_provisioner import workdir
from wws_provisioner.errors import SecretsUnavailable
from wws_provisioner.hoststate import SecretsClient, StartSecrets
from wws_provisioner.plan import IMAGE_LABEL
from wws_provisioner.runner import Operations
from wws_provisioner.runtime.fake import FakeRuntime
from wws_provisioner.settings import ProvisionerSettings
from wws_provisioner.workdir import WorkspaceDirs

WS = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
KEY = "sk-test-0123456789abcdef"
PEM = "-----BEGIN KEY-----\nAAAAsecretfilebody\n-----END KEY-----\n"


def env_secret(name: str = "openai", target: str = "OPENAI_API_KEY", value: str = KEY) -> InjectedSecret:
    return InjectedSecret(name=name, inject="env", target=target, value=value)


def file_secret(name: str = "openai-key", target: str = ".config/openai/key", value: str = PEM) -> InjectedSecret:
    return InjectedSecret(name=name, inject="file", target=target, value=value)


class Warnings:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> Warnings:
    rec = Warnings()
    monkeypatch.setattr(workdir, "log", rec)
    return rec


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# ---------------------------------------------------------------- the agent


def test_prepare_writes_env_and_file_secrets_and_a_value_free_manifest(tmp_path: Path) -> None:
    dirs = WorkspaceDirs(str(tmp_path))
    secrets = StartSecrets(workspace={"git-token": "ghp-tok"}, user=(env_secret(), file_secret()))
    sec = Path(dirs.prepare(WS, {"run_id": "r"}, secrets)) / "secrets"

    assert (sec / "git-token").read_text() == "ghp-tok"
    assert (sec / "env" / "OPENAI_API_KEY").read_text() == KEY
    assert (sec / "files" / "openai-key").read_text() == PEM
    manifest = (sec / "user.json").read_text()
    assert json.loads(manifest) == [
        {"name": "openai", "inject": "env", "target": "OPENAI_API_KEY"},
        {"name": "openai-key", "inject": "file", "target": ".config/openai/key"},
    ]
    assert KEY not in manifest and "secretfilebody" not in manifest
    for f in (sec / "env" / "OPENAI_API_KEY", sec / "files" / "openai-key", sec / "user.json"):
        assert _mode(f) == 0o400 and f.stat().st_uid == workdir.WORKSPACE_UID, f
    for d in (sec, sec / "env", sec / "files"):
        assert _mode(d) == 0o500 and d.stat().st_uid == workdir.WORKSPACE_UID, d


def test_a_later_start_writes_only_the_secrets_of_that_start(tmp_path: Path) -> None:
    dirs = WorkspaceDirs(str(tmp_path))
    dirs.prepare(WS, {}, StartSecrets(user=(env_secret(), file_secret())))
    sec = Path(dirs.prepare(WS, {}, StartSecrets(user=(env_secret(name="gh", target="GH_TOKEN"),)))) / "secrets"
    assert sorted(p.name for p in (sec / "env").iterdir()) == ["GH_TOKEN"]
    assert list((sec / "files").iterdir()) == []
    assert [e["name"] for e in json.loads((sec / "user.json").read_text())] == ["gh"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (env_secret(target="1ABC"), "environment variable"),
        (env_secret(target="A-B"), "environment variable"),
        (env_secret(target="A" * 129), "environment variable"),
        (env_secret(target="../../etc/passwd"), "environment variable"),
        (env_secret(name="../escape"), "name"),
        (env_secret(name=".."), "name"),
        (file_secret(name="a/b"), "name"),
        (file_secret(name="x" * 65), "name"),
        (file_secret(target=""), "path"),
        (file_secret(target="a" * 256), "path"),
        (file_secret(target="a\x00b"), "path"),
    ],
)
def test_invalid_names_and_targets_are_skipped_and_logged_without_the_value(
    tmp_path: Path, warnings: Warnings, bad: InjectedSecret, reason: str
) -> None:
    good = env_secret(name="good", target="GOOD")
    sec = Path(WorkspaceDirs(str(tmp_path)).prepare(WS, {}, StartSecrets(user=(bad, good)))) / "secrets"
    assert [e["name"] for e in json.loads((sec / "user.json").read_text())] == ["good"]
    written = [p for p in sec.rglob("*") if p.is_file()]
    assert sorted(p.relative_to(sec).as_posix() for p in written) == ["env/GOOD", "user.json"]
    assert not (tmp_path / "etc").exists() and not (tmp_path / str(WS) / "escape").exists()
    (line,) = warnings.lines
    assert line["event"] == "agent.secret_skipped" and reason in line["reason"]
    assert repr(bad.name[:80]) == line["secret"]
    assert bad.value not in json.dumps(line)


def test_duplicate_names_and_variables_keep_the_first(tmp_path: Path, warnings: Warnings) -> None:
    secrets = StartSecrets(
        user=(
            env_secret(name="a", target="TOKEN", value="first-value"),
            env_secret(name="b", target="TOKEN", value="second-value"),
            file_secret(name="a", value="third-value"),
        )
    )
    sec = Path(WorkspaceDirs(str(tmp_path)).prepare(WS, {}, secrets)) / "secrets"
    assert (sec / "env" / "TOKEN").read_text() == "first-value"
    assert list((sec / "files").iterdir()) == []
    assert [e["name"] for e in json.loads((sec / "user.json").read_text())] == ["a"]
    assert [line["secret"] for line in warnings.lines] == ["'b'", "'a'"]
    assert not any(v in json.dumps(warnings.lines) for v in ("first-value", "second-value", "third-value"))


@pytest.mark.parametrize("name", ["env", "files", "user.json", "../x", ""])
def test_workspace_secrets_cannot_take_the_owner_secrets_places(tmp_path: Path, warnings: Warnings, name: str) -> None:
    sec = Path(WorkspaceDirs(str(tmp_path)).prepare(WS, {}, StartSecrets(workspace={name: "v4lue"}))) / "secrets"
    assert json.loads((sec / "user.json").read_text()) == []
    assert (sec / "env").is_dir() and (sec / "files").is_dir()
    assert not (tmp_path / str(WS) / "x").exists()
    assert len(warnings.lines) == 1


def test_the_secrets_repr_names_them_only() -> None:
    secrets = StartSecrets(workspace={"git-token": "ghp-value"}, user=(env_secret(), file_secret()))
    text = repr(secrets)
    assert "git-token" in text and "openai-key" in text
    assert "ghp-value" not in text and KEY not in text and "secretfilebody" not in text


class FakeNats:
    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.asked: list[str] = []

    async def request(self, subject: str, payload: bytes, timeout: float) -> Any:
        self.asked.append(subject)
        return SimpleNamespace(data=self.reply)


async def test_the_client_returns_workspace_and_user_secrets() -> None:
    reply = SecretsReply(workspace_id=WS, values={"git-token": "ghp"}, user_secrets=[env_secret(), file_secret()])
    nc = FakeNats(msgspec.json.encode(reply))
    got = await SecretsClient(cast("Any", nc), "h1").fetch(WS)
    assert nc.asked == ["wws.ctl.secrets.h1"]
    assert got.workspace == {"git-token": "ghp"}
    assert [(s.name, s.inject, s.target, s.value) for s in got.user] == [
        ("openai", "env", "OPENAI_API_KEY", KEY),
        ("openai-key", "file", ".config/openai/key", PEM),
    ]


async def test_an_unreadable_answer_fails_without_quoting_it() -> None:
    raw = msgspec.json.encode(
        {
            "workspace_id": str(WS),
            "user_secrets": [{"name": "x", "inject": f"shell-{KEY}", "target": "X", "value": KEY}],
        }
    )
    with pytest.raises(SecretsUnavailable) as err:
        await SecretsClient(cast("Any", FakeNats(raw)), "h1").fetch(WS)
    assert KEY not in str(err.value) and err.value.__cause__ is None


class InitImageRuntime(FakeRuntime):
    """Images in ``wws`` are WWS images (they run the init); the others are foreign."""

    def __init__(self, wws: set[str], foreign: set[str]) -> None:
        super().__init__(images=[*wws, *foreign])
        self.wws = wws

    async def image_labels(self, image: str) -> dict[str, str]:
        await super().image_labels(image)
        return {IMAGE_LABEL: "base"} if image in self.wws else {}


class CountingSecrets:
    def __init__(self, secrets: StartSecrets) -> None:
        self.secrets = secrets
        self.asked: list[uuid.UUID] = []

    async def fetch(self, workspace_id: uuid.UUID) -> StartSecrets:
        self.asked.append(workspace_id)
        return self.secrets


class NoDevcontainer:
    async def get(self, workspace_id: uuid.UUID) -> None:
        return None

    async def delete(self, workspace_id: uuid.UUID) -> None:
        return None


class IdleWatcher:
    def watch(self, *_: Any, **__: Any) -> None:
        return None

    def cancel(self, workspace_id: uuid.UUID) -> None:
        return None


def _order(image: str, kind: type[c.AgentProvision] | type[c.AgentStart]) -> tuple[CommandEnvelope, Any]:
    spec = WorkspaceSpec(image=image, resources=Resources(cpu=1, memory_mb=256, disk_gb=1))
    order = kind(name="w", owner_id="u1", generation=1, spec=spec)
    now = datetime.now(UTC)
    cmd = CommandEnvelope(
        command_id=uuid.uuid4(),
        type=tag_of(kind),
        schema_version=kind.SCHEMA_VERSION,
        workspace_id=WS,
        host_id="h1",
        seq=1,
        org_id="acme",
        actor=Actor(type="user", id="u1"),
        correlation_id=uuid.uuid4(),
        issued_at=now,
        deadline=now + timedelta(minutes=5),
        data=order,
    )
    return cmd, order


async def test_every_start_of_an_init_workspace_asks_for_secrets_even_without_a_repository(tmp_path: Path) -> None:
    secrets = CountingSecrets(StartSecrets(user=(env_secret(),)))
    ops = Operations(
        runtime=InitImageRuntime({"localhost/wws-base:bookworm"}, {"docker.io/library/alpine:3"}),
        settings=ProvisionerSettings(host_id="h1", nats_url="nats://127.0.0.1:1", runtime_dir=str(tmp_path)),
        dirs=WorkspaceDirs(str(tmp_path)),
        ports=cast("Any", None),
        watcher=cast("Any", IdleWatcher()),
        secrets=cast("Any", secrets),
        devcontainers=cast("Any", NoDevcontainer()),
        emitter=cast("Any", None),
    )
    for kind, create in ((c.AgentProvision, True), (c.AgentStart, False)):
        cmd, order = _order("localhost/wws-base:bookworm", kind)
        await ops.bring_up(cmd, order, create=create)
    assert secrets.asked == [WS, WS]
    assert (tmp_path / str(WS) / "secrets" / "env" / "OPENAI_API_KEY").read_text() == KEY

    cmd, order = _order("docker.io/library/alpine:3", c.AgentStart)
    await ops.bring_up(cmd, order, create=False)
    assert secrets.asked == [WS, WS], "a foreign image runs no init: nothing would read its secrets"


# ---------------------------------------------------------------- the init


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run" / "secrets"
    (d / "env").mkdir(parents=True)
    (d / "files").mkdir()
    return d


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".wws").mkdir(parents=True)
    return h


def hand_over(secrets_dir: Path, *secrets: InjectedSecret) -> None:
    """What the agent writes (its own rules are tested above)."""
    for sub in ("env", "files"):
        for p in (secrets_dir / sub).iterdir():
            p.unlink()
    manifest = []
    for s in secrets:
        where = secrets_dir / "env" / s.target if s.inject == "env" else secrets_dir / "files" / s.name
        where.write_text(s.value)
        manifest.append({"name": s.name, "inject": s.inject, "target": s.target})
    (secrets_dir / "user.json").write_text(json.dumps(manifest))


def test_env_secrets_are_read_exactly_and_file_secrets_linked(home: Path, secrets_dir: Path) -> None:
    hand_over(secrets_dir, env_secret(value=KEY + "\n"), file_secret())
    injected = usersecrets.inject(home, secrets_dir)
    assert injected.env == {"OPENAI_API_KEY": KEY + "\n"}
    link = home / ".config" / "openai" / "key"
    assert link.is_symlink() and link.readlink() == secrets_dir / "files" / "openai-key"
    assert link.read_text() == PEM
    assert KEY not in repr(injected) and "secretfilebody" not in repr(injected)
    assert sorted(injected.values) == sorted([KEY + "\n", PEM])
    # what the home directory keeps about it: the link and the list of links, no value
    for p in home.rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert KEY not in p.read_text() and "secretfilebody" not in p.read_text(), p


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/etc/evil", "absolute"),
        ("../outside", "'..'"),
        (".config/../../outside", "'..'"),
        (".wws/secret-links.json", "keeps for itself"),
        ("escape/key", "outside the home directory"),
        ("escape/deeper/key", "outside the home directory"),
        ("occupied", "not a symlink"),
        ("occupied-dir", "not a symlink"),
    ],
)
def test_unsafe_targets_are_refused(home: Path, secrets_dir: Path, tmp_path: Path, target: str, message: str) -> None:
    outside = tmp_path / "outside-dir"
    outside.mkdir()
    (home / "escape").symlink_to(outside)
    (home / "occupied").write_text("mine")
    (home / "occupied-dir").mkdir()
    hand_over(secrets_dir, file_secret(name="k", target=target))
    injected = usersecrets.inject(home, secrets_dir)
    assert injected.linked == []
    ((name, why),) = injected.refused
    assert name == "k" and message in why
    assert list(outside.iterdir()) == []
    assert (home / "occupied").read_text() == "mine"
    assert not (tmp_path / "outside").exists() and not Path("/etc/evil").exists()


def test_an_older_link_is_replaced_and_two_secrets_cannot_share_a_target(home: Path, secrets_dir: Path) -> None:
    (home / ".netrc").symlink_to("/somewhere/old")
    hand_over(
        secrets_dir,
        file_secret(name="netrc", target=".netrc"),
        file_secret(name="netrc-2", target="./.netrc", value="other"),
    )
    injected = usersecrets.inject(home, secrets_dir)
    assert (home / ".netrc").readlink() == secrets_dir / "files" / "netrc"
    assert [e.name for e in injected.linked] == ["netrc"]
    assert [n for n, _ in injected.refused] == ["netrc-2"]


def test_links_of_secrets_that_are_gone_are_removed_and_nothing_else(home: Path, secrets_dir: Path) -> None:
    hand_over(
        secrets_dir,
        file_secret(name="a", target="a/key"),
        file_secret(name="b", target="b/key"),
        file_secret(name="c", target="c/key"),
        file_secret(name="moved", target="old/place"),
    )
    usersecrets.inject(home, secrets_dir)
    assert all((home / t).is_symlink() for t in ("a/key", "b/key", "c/key", "old/place"))
    (home / "b" / "key").unlink()
    (home / "b" / "key").symlink_to("/the/users/own")  # replaced by the user: not WWS's any more

    # "./c//key" is where "c/key" was: the same link, not a stale one
    hand_over(secrets_dir, file_secret(name="c", target="./c//key"), file_secret(name="moved", target="new/place"))
    injected = usersecrets.inject(home, secrets_dir)
    assert [e.name for e in injected.linked] == ["c", "moved"]
    assert not os.path.lexists(home / "a" / "key")
    assert (home / "b" / "key").readlink() == Path("/the/users/own")
    assert (home / "c" / "key").is_symlink()
    assert not os.path.lexists(home / "old" / "place") and (home / "new" / "place").is_symlink()

    (secrets_dir / "user.json").unlink()  # no secrets at all any more
    usersecrets.inject(home, secrets_dir)
    assert not os.path.lexists(home / "c" / "key") and not os.path.lexists(home / "new" / "place")


def _steps(tmp_path: Path) -> tuple[Steps, Path]:
    events = tmp_path / "events.jsonl"
    return Steps(Reporter(events, "run-1"), tmp_path / "logs"), events


def _lines(events: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in events.read_text().splitlines()] if events.exists() else []


def test_apply_reports_one_inject_step_and_a_failed_step_per_refused_secret(
    tmp_path: Path, home: Path, secrets_dir: Path
) -> None:
    hand_over(secrets_dir, env_secret(), file_secret(), file_secret(name="bad", target="../x", value="zzzzzz"))
    steps, events = _steps(tmp_path)
    usersecrets.apply(steps, home, secrets_dir)
    done = [(x["type"], x.get("step"), x.get("name")) for x in _lines(events) if x["type"] != "step_started"]
    assert done == [("step_succeeded", "secrets", "inject"), ("step_failed", "secrets", "bad")]
    lines = _lines(events)
    assert next(x for x in lines if x["type"] == "step_succeeded")["detail"] == "1 env, 1 file (1 refused)"
    failed = next(x for x in lines if x["type"] == "step_failed")
    assert "'..'" in failed["message"]
    assert steps.outcome.degraded and steps.outcome.failed == ["secrets:bad"]
    assert KEY not in events.read_text() and "zzzzzz" not in events.read_text()


def test_apply_without_user_secrets_reports_nothing(tmp_path: Path, home: Path, secrets_dir: Path) -> None:
    hand_over(secrets_dir)
    steps, events = _steps(tmp_path)
    usersecrets.apply(steps, home, secrets_dir)
    assert _lines(events) == [] and not steps.outcome.degraded and steps.env == {}


def test_commands_get_the_env_secrets_under_their_own_settings_and_outputs_are_scrubbed(tmp_path: Path) -> None:
    steps, events = _steps(tmp_path)
    steps.use_secrets({"OPENAI_API_KEY": KEY, "GIT_TERMINAL_PROMPT": "1"}, [KEY])
    out = steps.command(
        ["sh", "-c", 'test "$OPENAI_API_KEY" = "$EXPECTED" && echo "same $GIT_TERMINAL_PROMPT $OPENAI_API_KEY"'],
        env={"GIT_TERMINAL_PROMPT": "0", "EXPECTED": KEY},
        log_name="probe",
    )
    assert out.strip() == "same 0 ***"
    assert (tmp_path / "logs" / "probe.log").read_text().strip() == "same 0 ***"
    assert not steps.run("bootstrap", "leaky", lambda: steps.command(["sh", "-c", 'echo "$OPENAI_API_KEY"; exit 3']))
    failed = _lines(events)[-1]
    assert failed["type"] == "step_failed" and failed["output_tail"] == ["***"]
    assert KEY not in events.read_text()


def test_the_init_runs_bootstrap_scripts_with_the_secrets_and_the_links_in_place(
    tmp_path: Path, home: Path, secrets_dir: Path
) -> None:
    """The whole init (no repository, no IDE) against a temporary run directory and home."""
    hand_over(secrets_dir, env_secret(), file_secret())
    script = (
        'test "$OPENAI_API_KEY" = "' + KEY + '" && test "$WWS_TEMPLATE_ENV" = yes '
        "&& test -L .config/openai/key && grep -q secretfilebody .config/openai/key && echo ok > saw-secrets"
    )
    cfg = init_config.InitConfig(
        run_id="run-1",
        workspace_id=str(WS),
        workspace_name="w",
        mode="create",
        generation=1,
        bootstrap=[init_config.Script(source="workspace", script=script)],
        env={"WWS_TEMPLATE_ENV": "yes", "OPENAI_API_KEY": "the-template-value"},
        home=str(home),
    )
    stop = threading.Event()
    stop.set()
    assert init_main.run(cfg, stop, run_dir=secrets_dir.parent) == 0
    assert (home / "saw-secrets").read_text().strip() == "ok"
    lines = _lines(secrets_dir.parent / "events-run-1.jsonl")
    assert lines[-1]["type"] == "finished" and lines[-1]["degraded"] is False
    ok = {(x["step"], x["name"]) for x in lines if x["type"] == "step_succeeded"}
    assert ok == {("secrets", "inject"), ("bootstrap", "workspace")}
    assert KEY not in (secrets_dir.parent / "events-run-1.jsonl").read_text()


def test_a_broken_home_fails_the_secrets_step_and_the_init_goes_on(
    tmp_path: Path, home: Path, secrets_dir: Path
) -> None:
    hand_over(secrets_dir, env_secret())
    (home / ".wws").rmdir()
    (home / ".wws").write_text("not a directory")  # where the list of links should go
    steps, events = _steps(tmp_path)
    injected = usersecrets.apply(steps, home, secrets_dir)
    assert injected.env == {} and steps.outcome.failed == ["secrets:inject"]
    assert _lines(events)[-1]["type"] == "step_failed"
