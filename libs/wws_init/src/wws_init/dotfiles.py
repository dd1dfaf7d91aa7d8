"""Dotfiles with yadm: ``yadm clone`` on first start, then ``yadm bootstrap`` when the
repository has one, else the first executable of the conventional scripts at its root
(install.sh, install, bootstrap.sh, bootstrap, setup.sh, setup — what Codespaces, Gitpod and
DevPod run)."""

from __future__ import annotations

import os
from pathlib import Path

from wws_init.repository import GIT_ENV, allow_host
from wws_init.steps import StepFailed, Steps

CONVENTIONAL = ("install.sh", "install", "bootstrap.sh", "bootstrap", "setup.sh", "setup")


def apply(steps: Steps, url: str, branch: str | None, home: Path) -> None:
    yadm_repo = home / ".local" / "share" / "yadm" / "repo.git"
    fresh = not yadm_repo.exists()

    def clone() -> str:
        if not fresh:
            return "already cloned"
        allow_host(url)
        argv = ["yadm", "clone", "--no-bootstrap", "-f"]
        if branch:
            argv += ["-b", branch]
        steps.command([*argv, url], cwd=home, env=GIT_ENV, log_name="dotfiles-clone")
        # yadm leaves files that differ from the repository unchecked out; make the
        # repository win on first clone, as people expect from "apply my dotfiles"
        steps.command(["yadm", "checkout", "--", str(home)], cwd=home, env=GIT_ENV, log_name="dotfiles-checkout")
        return "cloned with yadm"

    if not steps.run("dotfiles", "clone", clone) or not fresh:
        return

    def bootstrap() -> str:
        yadm_bootstrap = home / ".config" / "yadm" / "bootstrap"
        if yadm_bootstrap.exists():
            if not os.access(yadm_bootstrap, os.X_OK):
                raise StepFailed("~/.config/yadm/bootstrap is not executable")
            steps.command(["yadm", "bootstrap"], cwd=home, log_name="dotfiles-bootstrap")
            return "ran yadm bootstrap"
        for name in CONVENTIONAL:
            script = home / name
            if script.is_file() and os.access(script, os.X_OK):
                steps.command([str(script)], cwd=home, log_name="dotfiles-bootstrap")
                return f"ran ~/{name}"
        return "no bootstrap script"

    steps.run("dotfiles", "bootstrap", bootstrap)
