"""The workspace owner's secrets, handed over by the host agent on the ``/run/wws`` tmpfs:

* ``secrets/user.json``: what they are (name, ``env`` or ``file``, target), never a value;
* ``secrets/env/<VARIABLE>``: values for the environment of every process the init starts
  (passed as ``env=``, never on a command line); shells read the same files through the
  image's ``/etc/zsh/zshenv`` and ``/etc/profile.d/wws-secrets.sh``;
* ``secrets/files/<name>``: values linked into the home directory as ``~/<target>`` →
  the file on the tmpfs, so the home volume only ever holds the symlink.

``~/.wws/secret-links.json`` remembers which links the init made, so a later start removes
the link of a secret that is gone (or moved) without touching anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from wws_init.config import SECRETS_DIR
from wws_init.steps import StepFailed, Steps

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
FILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_TARGET = 255
LINKS_STATE = PurePosixPath(".wws") / "secret-links.json"
RESERVED_DIR = ".wws"
"""The init's own state in the home directory: no secret is linked into it."""


@dataclass(frozen=True)
class Entry:
    name: str
    inject: str
    target: str


@dataclass(repr=False)
class Injected:
    """What one start injected. Its repr holds no value."""

    env: dict[str, str] = field(default_factory=dict)
    """Variable → value, for the environment of the init's processes."""
    values: list[str] = field(default_factory=list)
    """Every value (env and file), for scrubbing the init's reports and logs."""
    linked: list[Entry] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(secret name, why) of file secrets that could not be linked."""

    def __repr__(self) -> str:
        return f"Injected(env={sorted(self.env)}, linked={[e.name for e in self.linked]}, refused={self.refused})"


def _name_ok(name: str) -> bool:
    return FILE_NAME.fullmatch(name) is not None and name not in (".", "..")


def read_manifest(secrets_dir: Path = SECRETS_DIR) -> list[Entry]:
    """The agent's ``user.json`` (written by WWS, still checked: a malformed entry is left
    out). No file: no user secrets."""
    try:
        raw = json.loads((secrets_dir / "user.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries: list[Entry] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        name, inject, target = item.get("name"), item.get("inject"), item.get("target")
        if not (isinstance(name, str) and isinstance(target, str) and _name_ok(name)):
            continue
        if (inject == "env" and ENV_NAME.fullmatch(target)) or inject == "file":
            entries.append(Entry(name=name, inject=inject, target=target))
    return entries


def _same(target: str) -> str:
    """One spelling per path (``./a//b`` is ``a/b``), so two spellings never count as two."""
    return PurePosixPath(target).as_posix()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def link_target(home: Path, target: str) -> Path:
    """``~/<target>`` after the checks a link must pass; StepFailed says which one failed."""
    if not target or len(target) > MAX_TARGET or "\x00" in target:
        raise StepFailed(f"the target {target[:80]!r} is not a usable path")
    if target.startswith("/"):
        raise StepFailed(f"the target {target!r} is absolute; it must be relative to the home directory")
    parts = PurePosixPath(target).parts
    if not parts:
        raise StepFailed(f"the target {target!r} names the home directory itself")
    if ".." in parts:
        raise StepFailed(f"the target {target!r} contains '..'")
    if parts[0] == RESERVED_DIR:
        raise StepFailed(f"the target {target!r} is inside ~/{RESERVED_DIR}, which WWS keeps for itself")
    root = home.resolve()
    path = home.joinpath(*parts)
    # a directory on the way may be a symlink (the user's, or planted by a repository):
    # wherever it leads must still be in the home directory
    existing = path.parent
    while not os.path.lexists(existing):
        existing = existing.parent
    if not _inside(existing.resolve(), root):
        raise StepFailed(f"~/{target} would resolve outside the home directory")
    if os.path.lexists(path) and not path.is_symlink():
        raise StepFailed(f"~/{target} already exists and is not a symlink; WWS does not overwrite it")
    return path


def _link(home: Path, files_dir: Path, entry: Entry) -> None:
    path = link_target(home, entry.target)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _inside(path.parent.resolve(), home.resolve()):
        raise StepFailed(f"~/{entry.target} would resolve outside the home directory")
    tmp = path.parent / f".{path.name}.wws-{os.getpid()}"
    if os.path.lexists(tmp):
        tmp.unlink()
    tmp.symlink_to(files_dir / entry.name)
    # rename replaces an older link in one step (and never follows it)
    tmp.replace(path)


def _remove_stale(home: Path, files_dir: Path, keep: set[str]) -> None:
    """Links of earlier starts that no current secret makes; only links that still point
    into the secrets directory go (anything the user put there instead stays)."""
    state = home / LINKS_STATE
    try:
        previous = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    prefix = str(files_dir) + "/"
    for target in previous if isinstance(previous, list) else []:
        if not isinstance(target, str) or _same(target) in keep:
            continue
        try:
            path = link_target(home, target)
        except StepFailed:
            continue
        if path.is_symlink() and str(path.readlink()).startswith(prefix):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def inject(home: Path, secrets_dir: Path = SECRETS_DIR) -> Injected:
    """Read the env values, link the file secrets, drop stale links. A secret that cannot
    be injected is in ``refused``; an error of the home directory itself is raised."""
    files_dir = secrets_dir / "files"
    out = Injected()
    for entry in read_manifest(secrets_dir):
        source = secrets_dir / "env" / entry.target if entry.inject == "env" else files_dir / entry.name
        try:
            value = source.read_text(encoding="utf-8")
        except (OSError, ValueError):
            out.refused.append((entry.name, "its value could not be read from the secrets directory"))
            continue
        out.values.append(value)
        if entry.inject == "env":
            if "\x00" in value:  # no environment can hold it, and every process start would fail
                out.refused.append((entry.name, f"its value cannot be an environment variable ({entry.target})"))
                continue
            out.env[entry.target] = value
            continue
        if any(_same(e.target) == _same(entry.target) for e in out.linked):
            out.refused.append((entry.name, f"another secret is already linked at ~/{entry.target}"))
            continue
        try:
            _link(home, files_dir, entry)
        except StepFailed as exc:
            out.refused.append((entry.name, str(exc)))
            continue
        except OSError as exc:
            out.refused.append((entry.name, f"cannot link ~/{entry.target}: {exc.strerror}"))
            continue
        out.linked.append(entry)
    keep = {_same(e.target) for e in out.linked}
    _remove_stale(home, files_dir, keep)
    state = home / LINKS_STATE
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(sorted(keep)), encoding="utf-8")
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "env" else f"{n} {word}s"


def apply(steps: Steps, home: Path, secrets_dir: Path = SECRETS_DIR) -> Injected:
    """Inject and report: one ``secrets``/``inject`` step when there are user secrets, and a
    failed ``secrets``/``<name>`` step (the workspace is then degraded) per refused one.
    From here on, every process the init starts gets the env secrets, and every report
    and log the init writes has the values scrubbed."""
    try:
        injected = inject(home, secrets_dir)
    except Exception as exc:  # noqa: BLE001 - the init must go on; the workspace is degraded
        steps.run("secrets", "inject", _refuse(f"{type(exc).__name__}: {exc}"))
        return Injected()
    steps.use_secrets(injected.env, injected.values)
    if not (injected.env or injected.linked or injected.refused):
        return injected

    def summary() -> str:
        detail = f"{_plural(len(injected.env), 'env')}, {_plural(len(injected.linked), 'file')}"
        return detail + (f" ({len(injected.refused)} refused)" if injected.refused else "")

    steps.run("secrets", "inject", summary)
    for name, why in injected.refused:
        steps.run("secrets", name, _refuse(why))
    return injected


def _refuse(message: str) -> Callable[[], str]:
    def work() -> str:
        raise StepFailed(message)

    return work
