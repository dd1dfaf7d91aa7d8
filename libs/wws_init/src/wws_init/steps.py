"""Run one init step: report it started, time it, report success or failure with the exit
code and the tail of its output. A failing step never stops the init."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wws_init.report import Reporter, tail


class StepFailed(Exception):
    """Raised inside a step to fail it with a clear message (and maybe an exit code)."""

    def __init__(self, message: str, *, exit_code: int | None = None, output: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output


@dataclass
class Outcome:
    failed: list[str] = field(default_factory=list)
    degraded: bool = False


MIN_SCRUBBED = 4
"""Shorter values are not scrubbed from reports: they would blank out ordinary text."""


class Steps:
    def __init__(self, reporter: Reporter, log_dir: Path) -> None:
        self.reporter = reporter
        self.log_dir = log_dir
        self.outcome = Outcome()
        self.env: dict[str, str] = {}
        """The owner's env secrets: in the environment of every command, under the
        command's own settings (git's safety variables win)."""
        self._scrub: list[str] = []

    def use_secrets(self, env: Mapping[str, str], values: Sequence[str]) -> None:
        self.env = dict(env)
        # longest first, so a value containing another is replaced whole
        found = {v for value in values for v in (value, value.strip()) if len(v) >= MIN_SCRUBBED}
        self._scrub = sorted(found, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret value replaced: a script that prints one must not put
        it in an event or a log on the home volume."""
        for value in self._scrub:
            text = text.replace(value, "***")
        return text

    def run(self, step: str, name: str, work: Callable[[], str | None], *, degrades: bool = True) -> bool:
        """Run ``work``; its return value is the success detail. True when it succeeded."""
        self.reporter.emit("step_started", step=step, name=name)
        t0 = time.monotonic()
        try:
            detail = work()
        except StepFailed as exc:
            self._failed(step, name, t0, str(exc), exc.exit_code, exc.output, degrades)
            return False
        except Exception as exc:  # noqa: BLE001 - a broken step is reported, the init goes on
            self._failed(step, name, t0, f"{type(exc).__name__}: {exc}", None, "", degrades)
            return False
        self.reporter.emit(
            "step_succeeded",
            step=step,
            name=name,
            duration_ms=int((time.monotonic() - t0) * 1000),
            detail=None if detail is None else self.scrub(detail),
        )
        return True

    def _failed(
        self, step: str, name: str, t0: float, message: str, code: int | None, output: str, degrades: bool
    ) -> None:
        self.outcome.failed.append(f"{step}:{name}")
        self.outcome.degraded = self.outcome.degraded or degrades
        self.reporter.emit(
            "step_failed",
            step=step,
            name=name,
            duration_ms=int((time.monotonic() - t0) * 1000),
            exit_code=code,
            message=self.scrub(message)[:1000],
            output_tail=tail(self.scrub(output)),
        )

    def command(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 1800.0,
        log_name: str | None = None,
    ) -> str:
        """Run ``argv`` with output captured (and kept in ``~/.wws/logs``); StepFailed on a
        non-zero exit. Secrets are never on the command line: git reads its token through
        the credential helper."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run(  # noqa: S603 - argv built by init, never through a shell string
                list(argv),
                cwd=cwd,
                env={**os.environ, **self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            raise StepFailed(f"timed out after {int(timeout)}s", output=self.scrub(out)) from exc
        except FileNotFoundError as exc:
            raise StepFailed(f"{argv[0]} is not installed in this image", exit_code=127) from exc
        output = self.scrub(proc.stdout.decode(errors="replace"))
        if log_name:
            (self.log_dir / f"{log_name}.log").write_text(output, encoding="utf-8")
        if proc.returncode != 0:
            raise StepFailed(f"exited with {proc.returncode}", exit_code=proc.returncode, output=output)
        return output
