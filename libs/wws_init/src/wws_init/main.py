"""The init's order of work at every start, and staying up afterwards.

the owner's secrets → repository → devcontainer.json → onCreate/updateContent/postCreate
(new container only) → dotfiles → bootstrap scripts (template's, then workspace's) →
postStart → IDE → extensions → postAttach → ``finished``. Every step reports itself; a
failing step is recorded and the init goes on (the workspace is then marked degraded).
Then the init stays as the container's long-running process, keeps the IDE up, and exits
on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from functools import partial
from pathlib import Path

from wws_init import config as config_mod
from wws_init import devcontainer, dotfiles, ide, repository, scripts, usersecrets
from wws_init.devcontainer_phase import resolve
from wws_init.report import Reporter
from wws_init.steps import Steps

KEEPALIVE_S = 5.0


def _lifecycle_env(
    cfg: config_mod.InitConfig, dc: devcontainer.DevcontainerConfig | None, tree: Path | None
) -> dict[str, str]:
    env = dict(cfg.env)
    if dc is not None:
        folder = str(tree or Path(cfg.home))
        for key, value in dc.remote_env.items():
            if value is None:
                env.pop(key, None)
                continue
            env[key] = devcontainer.substitute(
                value,
                local_env=cfg.env,
                container_env=os.environ,
                local_folder=folder,
                container_folder=folder,
                devcontainer_id=cfg.workspace_id,
            )
    return env


def _run_lifecycle(steps: Steps, key: str, step: devcontainer.Lifecycle, *, cwd: Path, env: dict[str, str]) -> None:
    named = [(c.name or key, c.command) for c in step.commands]
    if named:
        scripts.run_parallel(steps, "lifecycle", named, cwd=cwd, env=env)


def run(cfg: config_mod.InitConfig, stop: threading.Event, run_dir: Path = config_mod.RUN_DIR) -> int:
    """``run_dir``: what the agent mounts at /run/wws (tests pass their own)."""
    home = Path(cfg.home)
    state = home / ".wws"
    state.mkdir(parents=True, exist_ok=True)
    reporter = Reporter(run_dir / f"events-{cfg.run_id}.jsonl", cfg.run_id)
    steps = Steps(reporter, state / "logs")
    t0 = time.monotonic()
    # first, so every process below gets the env secrets and the links exist when it runs
    injected = usersecrets.apply(steps, home, run_dir / "secrets")

    tree = repository.ensure(steps, cfg.repository, home) if cfg.repository else None
    dc = None
    if tree is not None and cfg.devcontainer:
        status, dc = resolve(cfg, tree, reporter)
        if status == "needs_image":
            reporter.emit("prepared", needs_image=True)
            return 0  # the host swaps the image and starts a new container
        if status == "invalid":
            steps.outcome.failed.append("devcontainer:devcontainer.json")
            steps.outcome.degraded = True
    reporter.emit("prepared", needs_image=False)

    # the owner's secrets over the template's and devcontainer's variables, as in their shells
    env = {**_lifecycle_env(cfg, dc, tree), **injected.env}
    cwd = tree or home
    if dc is not None:
        marker = state / "lifecycle" / f"created-{cfg.generation}-{cfg.devcontainer_key or 'template'}"
        if not marker.exists():
            for key, step in dc.lifecycle()[:3]:  # onCreate, updateContent, postCreate: once per container
                _run_lifecycle(steps, key, step, cwd=cwd, env=env)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(str(time.time()), encoding="utf-8")

    if cfg.dotfiles_url:
        dotfiles.apply(steps, cfg.dotfiles_url, cfg.dotfiles_branch, home)

    for script in cfg.bootstrap:
        work = partial(scripts.run_script, steps, script.source, script.script, cwd=cwd, env=env, state_dir=state)
        steps.run("bootstrap", script.source, work)

    if dc is not None:
        _run_lifecycle(steps, "postStartCommand", dc.post_start, cwd=cwd, env=env)

    editor = None
    if cfg.ide:
        folder = tree if tree is not None else home
        if dc is not None and dc.workspace_folder:
            folder = Path(dc.workspace_folder)
        editor = ide.IDE(cfg.ide_port, folder, env, state / "logs" / "code-server.log")
        if ide.start(steps, editor) and dc is not None:
            ide.install_extensions(steps, editor, dc.extensions)
            _run_lifecycle(steps, "postAttachCommand", dc.post_attach, cwd=cwd, env=env)

    reporter.emit(
        "finished",
        duration_ms=int((time.monotonic() - t0) * 1000),
        degraded=steps.outcome.degraded,
        failed_steps=steps.outcome.failed,
    )
    while not stop.wait(KEEPALIVE_S):
        if editor is not None:
            editor.keep_alive()
    if editor is not None:
        editor.stop()
    return 0


def main() -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cfg = config_mod.load()
    except (OSError, ValueError, KeyError) as exc:
        print(f"wws-init: cannot read {config_mod.RUN_DIR / 'init.json'}: {exc}", flush=True)  # noqa: T201
        stop.wait()  # stay up: the workspace is usable without init
        return 0
    return run(cfg, stop)
