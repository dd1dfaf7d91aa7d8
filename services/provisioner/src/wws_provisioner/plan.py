"""What container a workspace gets, decided without touching Podman: image, user, home,
mounts, environment, network, ports, and whether WWS's init runs in it. Pure, so every
rule is unit-tested."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

from wws_events.workspace import Resources, WorkspaceSpec

IMAGE_LABEL = "io.wws.image"
"""Images built by WWS carry it: they run WWS's init (python3 is in them)."""
INIT_MOUNT = "/run/wws-init"
RUN_MOUNT = "/run/wws"
IDE_CONTAINER_PORT = 8080
LOOPBACK_HOST = "host.wws.internal"
KEEPALIVE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while sleep 1000 & wait $!; do :; done"]
CREDENTIAL_HELPER = f"{INIT_MOUNT}/wws_init/bin/git-credential-wws"


class Mount(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    read_only: bool = False


class DevcontainerState(msgspec.Struct, frozen=True, kw_only=True):
    """What a devcontainer.json decided for a workspace on this host (kept in KV: it
    outlives a lost container)."""

    key: str
    image: str
    source: str
    container_env: dict[str, str] = {}
    user: str | None = None


class ContainerPlan(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    name: str
    owner_id: str
    generation: int
    command_id: uuid.UUID
    image: str
    resources: Resources
    user: str | None
    home: str
    env: dict[str, str]
    mounts: list[Mount]
    network: Literal["none", "egress"]
    allow_host_loopback: bool
    ports: dict[int, int]
    """Container port → host loopback port."""
    command: list[str] | None
    """None: the image's own command (WWS images run their init through it)."""
    devcontainer_key: str | None
    runs_init: bool


def plan_container(
    *,
    workspace_id: uuid.UUID,
    name: str,
    owner_id: str,
    generation: int,
    command_id: uuid.UUID,
    spec: WorkspaceSpec,
    image_labels: dict[str, str],
    devcontainer: DevcontainerState | None,
    run_dir: str,
    init_dir: str,
    ide_port: int | None,
    allow_host_loopback: bool,
) -> ContainerPlan:
    image = devcontainer.image if devcontainer else spec.image
    runs_init = IMAGE_LABEL in image_labels
    user = devcontainer.user if devcontainer and devcontainer.user else None
    home = f"/home/{user}" if user and user != "root" else ("/root" if user == "root" else "/home/dev")
    env = {
        "WWS_WORKSPACE_ID": str(workspace_id),
        "WWS_WORKSPACE_NAME": name,
        "WWS_GENERATION": str(generation),
        **spec.env,
        **(devcontainer.container_env if devcontainer else {}),
    }
    mounts: list[Mount] = []
    command: list[str] | None = None
    if runs_init:
        mounts += [Mount(source=run_dir, target=RUN_MOUNT), Mount(source=init_dir, target=INIT_MOUNT, read_only=True)]
        command = ["python3", "-m", "wws_init"]
        env["PYTHONPATH"] = INIT_MOUNT
        if spec.repository is not None:
            # every git in the workspace asks WWS's helper, which reads the token from the
            # tmpfs mount; nothing about the token is in the environment itself
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "credential.helper",
                    "GIT_CONFIG_VALUE_0": CREDENTIAL_HELPER,
                }
            )
    else:
        command = KEEPALIVE
    ports = {IDE_CONTAINER_PORT: ide_port} if spec.ide and ide_port is not None and spec.network == "egress" else {}
    return ContainerPlan(
        workspace_id=workspace_id,
        name=name,
        owner_id=owner_id,
        generation=generation,
        command_id=command_id,
        image=image,
        resources=spec.resources,
        user=user,
        home=home,
        env=env,
        mounts=mounts,
        network=spec.network,
        allow_host_loopback=allow_host_loopback and spec.network == "egress",
        ports=ports,
        command=command,
        devcontainer_key=devcontainer.key if devcontainer else None,
        runs_init=runs_init,
    )


def init_config(
    *,
    run_id: uuid.UUID,
    workspace_id: uuid.UUID,
    name: str,
    org_id: str,
    correlation_id: uuid.UUID,
    generation: int,
    spec: WorkspaceSpec,
    plan: ContainerPlan,
    fresh: bool,
) -> dict[str, Any]:
    """``/run/wws/init.json`` for one start (read by ``wws_init.config.load``). Names of
    secrets only: their values are files beside it."""
    repo = spec.repository
    return {
        "run_id": str(run_id),
        "workspace_id": str(workspace_id),
        "workspace_name": name,
        "org_id": org_id,
        "correlation_id": str(correlation_id),
        "mode": "create" if fresh else "start",
        "generation": generation,
        "repository": {
            "url": repo.url,
            "branch": repo.branch,
            "create": msgspec.to_builtins(repo.create) if repo.create else None,
            "credential": repo.credential,
        }
        if repo
        else None,
        "dotfiles": {"url": spec.dotfiles.url, "branch": spec.dotfiles.branch} if spec.dotfiles else None,
        "bootstrap": [{"source": s.source, "script": s.script} for s in spec.bootstrap],
        "env": spec.env,
        "ide": spec.ide,
        "ide_port": IDE_CONTAINER_PORT,
        "devcontainer": spec.devcontainer,
        "devcontainer_key": plan.devcontainer_key,
        "home": plan.home,
    }
