"""The container a workspace gets (pure planning) and the init config the agent hands to
the in-workspace init — checked against the init's own parser, so the two cannot drift."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from wws_events.workspace import CreateRepository, Dotfiles, Repository, Resources, Script, WorkspaceSpec
from wws_init import config as init_config_module
from wws_provisioner.images import wws_definition
from wws_provisioner.plan import (
    CREDENTIAL_HELPER,
    IDE_CONTAINER_PORT,
    IMAGE_LABEL,
    INIT_MOUNT,
    KEEPALIVE,
    RUN_MOUNT,
    ContainerPlan,
    DevcontainerState,
    init_config,
    plan_container,
)

WS = uuid.UUID("00000000-0000-4000-8000-000000000001")
CMD = uuid.UUID("00000000-0000-4000-8000-000000000002")
RES = Resources(cpu=1, memory_mb=512, disk_gb=1)
WWS_IMAGE = {IMAGE_LABEL: "dev"}


def _plan(spec: WorkspaceSpec, labels: dict[str, str] | None = None, **kw: object) -> ContainerPlan:
    args: dict[str, object] = {
        "workspace_id": WS,
        "name": "w",
        "owner_id": "admin",
        "generation": 3,
        "command_id": CMD,
        "spec": spec,
        "image_labels": WWS_IMAGE if labels is None else labels,
        "devcontainer": None,
        "run_dir": "/run/wws/workspaces/x",
        "init_dir": "/run/wws/workspaces/_init/abc",
        "ide_port": 20001,
        "allow_host_loopback": True,
    }
    args.update(kw)
    return plan_container(**args)  # type: ignore[arg-type]


def test_wws_image_runs_init_with_its_mounts_and_the_credential_helper() -> None:
    spec = WorkspaceSpec(
        image="localhost/wws-dev:python",
        resources=RES,
        ide=True,
        network="egress",
        env={"A": "1"},
        repository=Repository(url="http://h/r.git", credential="git-token"),
    )
    plan = _plan(spec)
    assert plan.runs_init and plan.command == ["python3", "-m", "wws_init"]
    assert {(m.target, m.read_only) for m in plan.mounts} == {(RUN_MOUNT, False), (INIT_MOUNT, True)}
    assert plan.env["GIT_CONFIG_KEY_0"] == "credential.helper" and plan.env["GIT_CONFIG_VALUE_0"] == CREDENTIAL_HELPER
    assert plan.env["A"] == "1" and plan.env["WWS_GENERATION"] == "3" and plan.env["PYTHONPATH"] == INIT_MOUNT
    assert plan.ports == {IDE_CONTAINER_PORT: 20001} and plan.allow_host_loopback
    assert not any("token" in v.lower() for v in plan.env.values() if v != "git-token")


def test_foreign_image_gets_no_init_and_a_keepalive() -> None:
    plan = _plan(WorkspaceSpec(image="docker.io/library/debian:12", resources=RES), labels={})
    assert not plan.runs_init and plan.command == KEEPALIVE and plan.mounts == []
    assert "GIT_CONFIG_COUNT" not in plan.env


@pytest.mark.parametrize(
    ("ide", "network", "published"),
    [(True, "egress", True), (True, "none", False), (False, "egress", False)],
)
def test_ide_port_is_published_only_for_an_ide_with_a_network(ide: bool, network: str, published: bool) -> None:
    plan = _plan(WorkspaceSpec(image="i", resources=RES, ide=ide, network=network))  # type: ignore[arg-type]
    assert bool(plan.ports) is published
    assert plan.allow_host_loopback is (network == "egress")


def test_devcontainer_decides_image_user_home_and_env_over_the_spec() -> None:
    dc = DevcontainerState(
        key="k1", image="localhost/wws-dc:k1", source=".devcontainer.json", container_env={"A": "dc"}, user="root"
    )
    plan = _plan(WorkspaceSpec(image="i", resources=RES, env={"A": "spec", "B": "2"}), devcontainer=dc)
    assert plan.image == "localhost/wws-dc:k1" and plan.user == "root" and plan.home == "/root"
    assert plan.env["A"] == "dc" and plan.env["B"] == "2" and plan.devcontainer_key == "k1"
    other = _plan(
        WorkspaceSpec(image="i", resources=RES),
        devcontainer=DevcontainerState(key="k", image="x", source="s", user="vscode"),
    )
    assert other.home == "/home/vscode"


def test_init_config_is_what_the_init_parses(tmp_path: Path) -> None:
    spec = WorkspaceSpec(
        image="localhost/wws-dev:go",
        resources=RES,
        ide=True,
        network="egress",
        env={"X": "y"},
        repository=Repository(
            create=CreateRepository(name="new", owner="acme", api_url="http://127.0.0.1:9/api"), credential="git-token"
        ),
        dotfiles=Dotfiles(url="http://h/dots.git", branch="main"),
        bootstrap=[Script(source="template", script="echo t"), Script(source="workspace", script="echo w")],
    )
    plan = _plan(spec)
    raw = init_config(
        run_id=CMD,
        workspace_id=WS,
        name="w",
        org_id="default",
        correlation_id=CMD,
        generation=3,
        spec=spec,
        plan=plan,
        fresh=True,
    )
    path = tmp_path / "init.json"
    path.write_text(json.dumps(raw))
    cfg = init_config_module.load(path)
    assert cfg.run_id == str(CMD) and cfg.mode == "create" and cfg.generation == 3 and cfg.ide
    assert cfg.repository is not None and cfg.repository.create is not None
    assert (cfg.repository.create.name, cfg.repository.create.owner, cfg.repository.create.api_url) == (
        "new",
        "acme",
        "http://127.0.0.1:9/api",
    )
    assert cfg.repository.credential == "git-token" and cfg.repository.url is None
    assert (cfg.dotfiles_url, cfg.dotfiles_branch) == ("http://h/dots.git", "main")
    assert [(s.source, s.script) for s in cfg.bootstrap] == [("template", "echo t"), ("workspace", "echo w")]
    assert cfg.env == {"X": "y"} and cfg.ide_port == IDE_CONTAINER_PORT and cfg.home == "/home/dev"
    again = init_config(
        run_id=CMD,
        workspace_id=WS,
        name="w",
        org_id="default",
        correlation_id=CMD,
        generation=3,
        spec=spec,
        plan=plan,
        fresh=False,
    )
    assert again["mode"] == "start"


@pytest.mark.parametrize(
    ("image", "builds"),
    [
        ("localhost/wws-base:bookworm", "localhost/wws-base:bookworm"),
        ("localhost/wws-ide:bookworm", "localhost/wws-ide:bookworm"),
        ("localhost/wws-dev:go-python", "localhost/wws-dev:go-python"),
        ("localhost/wws-dev:ide", "localhost/wws-dev:ide"),
        ("localhost/wws-dev:python-go", None),  # not the canonical (sorted) tag
        ("localhost/wws-dev:cobol", None),
        ("localhost/other:1", None),
        ("docker.io/library/debian:12", None),
    ],
)
def test_which_missing_images_the_agent_may_build(image: str, builds: str | None) -> None:
    found = wws_definition(image)
    assert (found.ref if found else None) == builds
