"""Bootstrap scripts (template's, then workspace's) and devcontainer lifecycle commands:
run as the workspace user, output captured, a failure recorded with its exit code."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from wws_init.steps import StepFailed, Steps

SHELL = "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh"


def run_script(steps: Steps, name: str, script: str, *, cwd: Path, env: Mapping[str, str], state_dir: Path) -> str:
    """Write ``script`` to a file and run it (its shebang decides the interpreter)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"bootstrap-{name}.sh"
    path.write_text(script if script.endswith("\n") else script + "\n", encoding="utf-8")
    path.chmod(0o700)
    argv = [str(path)] if script.startswith("#!") else [SHELL, "-e", str(path)]
    out = steps.command(argv, cwd=cwd, env=env, log_name=f"bootstrap-{name}")
    return f"{len(out.splitlines())} lines of output (~/.wws/logs/bootstrap-{name}.log)"


def run_command(steps: Steps, command: str | Sequence[str], *, cwd: Path, env: Mapping[str, str], log_name: str) -> str:
    """A lifecycle command: a string runs in a shell, an array runs as argv (the spec's rule)."""
    if isinstance(command, str):
        argv = ["/bin/sh", "-c", command]
    else:
        argv = list(command)
        if not argv:
            raise StepFailed("empty command")
        if shutil.which(argv[0], path=env.get("PATH", os.environ.get("PATH"))) is None and not Path(argv[0]).exists():
            raise StepFailed(f"{argv[0]} not found", exit_code=127)
    steps.command(argv, cwd=cwd, env=env, log_name=log_name)
    return "done"


def run_parallel(
    steps: Steps, step: str, named: Sequence[tuple[str, str | Sequence[str]]], *, cwd: Path, env: Mapping[str, str]
) -> None:
    """The object form: every named command at once, each reported as its own step."""

    def one(name: str, command: str | Sequence[str]) -> bool:
        return steps.run(step, name, partial(run_command, steps, command, cwd=cwd, env=env, log_name=f"{step}-{name}"))

    if len(named) == 1:
        one(*named[0])
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(named))) as pool:
        for future in [pool.submit(one, name, command) for name, command in named]:
            future.result()
