"""The init's configuration, written by the host agent to ``/run/wws/init.json`` before
every start. Secrets are never in it: they are files under ``/run/wws/secrets``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RUN_DIR = Path("/run/wws")
SECRETS_DIR = RUN_DIR / "secrets"


@dataclass(frozen=True)
class NewRepo:
    name: str
    owner: str | None
    private: bool
    api_url: str


@dataclass(frozen=True)
class RepoConfig:
    url: str | None
    branch: str | None
    create: NewRepo | None
    credential: str | None
    """File name under ``SECRETS_DIR`` holding the token, when there is one."""


@dataclass(frozen=True)
class Script:
    source: str
    script: str


@dataclass(frozen=True)
class InitConfig:
    run_id: str
    workspace_id: str
    workspace_name: str
    mode: Literal["create", "start"]
    """``create``: a new container (postCreate runs; a devcontainer may ask for its image);
    ``start``: an existing container started again."""
    generation: int
    repository: RepoConfig | None = None
    dotfiles_url: str | None = None
    dotfiles_branch: str | None = None
    bootstrap: list[Script] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ide: bool = False
    ide_port: int = 8080
    devcontainer: bool = True
    devcontainer_key: str | None = None
    """Key of the devcontainer configuration the current image was built for (None: the
    template's image)."""
    home: str = "/home/dev"


def _repo(raw: Any) -> RepoConfig | None:
    if not raw:
        return None
    create = raw.get("create")
    return RepoConfig(
        url=raw.get("url"),
        branch=raw.get("branch"),
        create=NewRepo(
            name=create["name"],
            owner=create.get("owner"),
            private=bool(create.get("private", True)),
            api_url=create.get("api_url") or "https://api.github.com",
        )
        if create
        else None,
        credential=raw.get("credential"),
    )


def load(path: Path = RUN_DIR / "init.json") -> InitConfig:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return InitConfig(
        run_id=raw["run_id"],
        workspace_id=raw["workspace_id"],
        workspace_name=raw.get("workspace_name", ""),
        mode=raw.get("mode", "start"),
        generation=int(raw.get("generation", 0)),
        repository=_repo(raw.get("repository")),
        dotfiles_url=(raw.get("dotfiles") or {}).get("url"),
        dotfiles_branch=(raw.get("dotfiles") or {}).get("branch"),
        bootstrap=[Script(source=s["source"], script=s["script"]) for s in raw.get("bootstrap", [])],
        env=dict(raw.get("env", {})),
        ide=bool(raw.get("ide", False)),
        ide_port=int(raw.get("ide_port", 8080)),
        devcontainer=bool(raw.get("devcontainer", True)),
        devcontainer_key=raw.get("devcontainer_key"),
        home=raw.get("home", "/home/dev"),
    )
