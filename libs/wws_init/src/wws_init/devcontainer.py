"""devcontainer.json support: find a repository's file, check it, and say what WWS will do with it.

A repository's devcontainer.json (the Development Containers spec, containers.dev) says how
its workspace should be built and prepared. wws_init runs inside the workspace with only the
standard library, so it reads the file itself, checks every shape WWS acts on, and sends the
host agent a plain, already-validated description (``to_json``). Checking here, once, means
a broken file fails with the key or the line that is wrong instead of a half-applied setup.

Nothing is silently dropped: each key WWS does not act on is named in
``DevcontainerConfig.unsupported`` so the workspace's events can tell the user.

Variables such as ``${localEnv:HOME}`` are kept as written by ``parse``; ``substitute``
replaces them when the values they need are known (local ones on the host, container ones
inside the workspace).

What WWS supports
-----------------

=====================================  =====================================================
Key                                    What WWS does with it
=====================================  =====================================================
``name``                               kept as ``name``, for display
``image``                              the image the workspace runs
``build.dockerfile``                   Dockerfile the host builds; relative to the
                                       devcontainer.json folder, stored relative to the
                                       repository root, must stay inside the repository
``build.context``                      build context, same path rules; defaults to the
                                       devcontainer.json folder (``"."``)
``build.args``, ``build.target``       passed to the build
``dockerFile``, ``context``            older top-level spelling of the two above (still in
                                       the spec's schema); read the same way
``containerEnv``                       set on the container
``remoteEnv``                          set for lifecycle commands and the IDE; ``null``
                                       unsets a variable (kept as ``None``)
``remoteUser``, ``containerUser``      the users commands and the container run as
``forwardPorts``                       port numbers (0-65535) or ``"host:port"`` strings
``onCreateCommand``,                   a string runs in ``/bin/sh -c``; an array is an argv
``updateContentCommand``,              run without a shell; an object is named commands
``postCreateCommand``,                 run in parallel (each a string or an array). Empty
``postStartCommand``,                  commands are nothing to run.
``postAttachCommand``
``customizations.vscode.extensions``   extensions installed in the IDE
``workspaceFolder``                    folder the IDE and commands start in
``$schema``                            accepted and ignored (an editor hint)
=====================================  =====================================================

Everything else is reported in ``unsupported``, with nested keys spelled out
(``build.cacheFrom``, ``build.options``, ``customizations.jetbrains``,
``customizations.vscode.settings``). Notably, and why:

- ``features``: installing Features means fetching OCI artifacts and running their install
  scripts as root at build time, a build system of its own.
- ``dockerComposeFile``, ``service``, ``runServices``: a WWS workspace is one container.
- ``initializeCommand``: it runs on the host; WWS never runs repository code on the host.
- ``mounts``, ``runArgs``, ``capAdd``, ``securityOpt``, ``privileged``, ``init``,
  ``workspaceMount``, ``appPort``: these would let a repository change how the host runs
  the container or widen its privileges; the workspace's settings own that.
- ``hostRequirements``: sizing is chosen when the workspace is created.
- ``portsAttributes``, ``otherPortsAttributes``, ``waitFor``, ``userEnvProbe``,
  ``overrideCommand``, ``shutdownAction``, ``updateRemoteUserUID``, ``secrets``,
  ``overrideFeatureInstallOrder``: tool behaviours WWS does not have.

Also not done here: merging the ``devcontainer.metadata`` label of the image (that needs
the image, which the host has), and Windows-specific rules (workspaces are Linux).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

from wws_init import jsonc

__all__ = [
    "LIFECYCLE_KEYS",
    "SHELL",
    "Build",
    "Command",
    "DevcontainerConfig",
    "DevcontainerError",
    "Lifecycle",
    "find",
    "from_json",
    "load",
    "parse",
    "substitute",
    "to_json",
]

SHELL = "/bin/sh"
"""The shell a string command runs in, as the spec says."""

LIFECYCLE_KEYS = (
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
)
"""The in-container lifecycle steps, in the order they run."""

_CONFIG_NAME = "devcontainer.json"
_FOLDER = ".devcontainer"
_BUILD_KEYS = frozenset({"dockerfile", "context", "args", "target"})
_TOP_LEVEL_KEYS = frozenset(
    {
        "$schema",
        "name",
        "image",
        "build",
        "containerEnv",
        "remoteEnv",
        "remoteUser",
        "containerUser",
        "forwardPorts",
        "customizations",
        "workspaceFolder",
        *LIFECYCLE_KEYS,
    }
)
_HOST_PORT = re.compile(r"([a-z0-9-]+):([0-9]{1,5})")  # the schema's pattern for "host:port"
_PLAIN_KEY = re.compile(r"[^.\[\]\"\s]+")
_VARIABLE = re.compile(r"\$\{(.*?)\}")  # non-greedy, as the reference CLI matches
_T = TypeVar("_T")


class DevcontainerError(ValueError):
    """A devcontainer.json that cannot be used as written.

    ``key_path`` names the offending key (``postCreateCommand.setup``, ``forwardPorts[1]``);
    for a syntax error it is None and ``line``/``column`` (1-based) say where the text is
    wrong. ``source`` is the file, relative to the repository root, when known.
    """

    def __init__(
        self,
        message: str,
        key_path: str | None = None,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, key_path)
        self.message = message
        self.key_path = key_path
        self.source = source
        self.line = line
        self.column = column

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        if self.line is not None:
            return f"{prefix}{self.message} at line {self.line}, column {self.column}"
        if self.key_path:
            return f"{prefix}{self.key_path}: {self.message}"
        return f"{prefix}{self.message}"


@dataclass(frozen=True, slots=True)
class Build:
    """How to build the workspace image from a Dockerfile.

    ``dockerfile`` and ``context`` are normalised POSIX paths relative to the repository
    root (the file says them relative to its own folder), so the host can join them to its
    own checkout path; they never start with ``/`` or ``..``.
    """

    dockerfile: str
    context: str = "."
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One command: a string runs in ``/bin/sh -c``; a list is an argv, run without a shell.

    ``name`` is the key of an object-form entry and None for the string and array forms.
    """

    command: str | list[str]
    name: str | None = None

    @property
    def shell(self) -> bool:
        """Whether the command goes through a shell (the string form)."""
        return isinstance(self.command, str)

    def argv(self) -> list[str]:
        """What to execute: the shell with the string, or the array itself."""
        if isinstance(self.command, str):
            return [SHELL, "-c", self.command]
        return list(self.command)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The commands of one lifecycle step; empty when the file sets none.

    The object form gives several named commands that run in parallel, and the step
    succeeds only if all of them do; the string and array forms give one unnamed command.
    """

    commands: list[Command] = field(default_factory=list)

    @property
    def parallel(self) -> bool:
        """Whether the step came from the object form (its commands run concurrently)."""
        return any(command.name is not None for command in self.commands)


@dataclass(frozen=True, slots=True, kw_only=True)
class DevcontainerConfig:
    """What WWS acts on in one devcontainer.json, checked, with variables not yet replaced.

    ``source`` is the file's path relative to the repository root. ``unsupported`` lists,
    sorted, every key present that WWS ignores (see the module's table).
    """

    source: str
    name: str | None = None
    image: str | None = None
    build: Build | None = None
    container_env: dict[str, str] = field(default_factory=dict)
    remote_env: dict[str, str | None] = field(default_factory=dict)
    remote_user: str | None = None
    container_user: str | None = None
    forward_ports: list[int | str] = field(default_factory=list)
    on_create: Lifecycle = field(default_factory=Lifecycle)
    update_content: Lifecycle = field(default_factory=Lifecycle)
    post_create: Lifecycle = field(default_factory=Lifecycle)
    post_start: Lifecycle = field(default_factory=Lifecycle)
    post_attach: Lifecycle = field(default_factory=Lifecycle)
    extensions: list[str] = field(default_factory=list)
    workspace_folder: str | None = None
    unsupported: list[str] = field(default_factory=list)

    def lifecycle(self) -> list[tuple[str, Lifecycle]]:
        """The five lifecycle steps with their devcontainer.json keys, in the order they run."""
        steps = (self.on_create, self.update_content, self.post_create, self.post_start, self.post_attach)
        return list(zip(LIFECYCLE_KEYS, steps, strict=True))


# --- finding ---------------------------------------------------------------------------


def find(repo_dir: Path) -> Path | None:
    """The repository's devcontainer.json, in the spec's order of precedence, or None.

    ``.devcontainer/devcontainer.json``, then ``.devcontainer.json``, then
    ``.devcontainer/<folder>/devcontainer.json`` one level deep, the first folder in sorted
    order (the spec lets tools choose among several; sorting makes the choice stable).
    """
    folder = repo_dir / _FOLDER
    for candidate in (folder / _CONFIG_NAME, repo_dir / ".devcontainer.json"):
        if candidate.is_file():
            return candidate
    if not folder.is_dir():
        return None
    for sub in sorted(folder.iterdir(), key=lambda p: p.name):
        candidate = sub / _CONFIG_NAME
        if sub.is_dir() and candidate.is_file():
            return candidate
    return None


# --- reading ---------------------------------------------------------------------------


def load(path: Path, *, repo_dir: Path) -> DevcontainerConfig:
    """Read and parse the devcontainer.json at ``path`` inside the checkout at ``repo_dir``.

    The file must be UTF-8 (a byte order mark is allowed). OSError from reading propagates.
    """
    try:
        source = path.relative_to(repo_dir).as_posix()
    except ValueError:
        source = ".."
    if _escapes(posixpath.normpath(source)):
        raise DevcontainerError(f"{path} is not inside the repository {repo_dir}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        raise DevcontainerError("the file is not valid UTF-8", source=source, line=line, column=column) from None
    return parse(text, source=source)


def parse(text: str, *, source: str) -> DevcontainerConfig:
    """Parse devcontainer.json ``text``; ``source`` is its path relative to the repository root.

    ``source`` places the file, so that ``build.dockerfile`` and ``build.context`` (relative
    to the file's folder) can be stored relative to the root. Raises DevcontainerError.
    """
    if source.startswith("/") or _escapes(posixpath.normpath(source)):
        raise ValueError(f"source must be a path relative to the repository root, not {source!r}")
    try:
        document = jsonc.loads(text)
    except jsonc.JsoncError as exc:
        raise DevcontainerError(exc.message, source=source, line=exc.line, column=exc.column) from None
    try:
        return _read(document, source)
    except DevcontainerError as exc:
        exc.source = source
        raise


def _read(document: object, source: str) -> DevcontainerConfig:
    doc = _object(document, "", what="the document")
    unsupported = [key for key in doc if key not in _TOP_LEVEL_KEYS]
    base = posixpath.dirname(source)
    build = _build(doc, base, unsupported)
    extensions = _customizations(doc["customizations"], unsupported) if "customizations" in doc else []
    if "$schema" in doc:
        _str(doc["$schema"], "$schema")
    steps = {key: _lifecycle(doc[key], key) if key in doc else Lifecycle() for key in LIFECYCLE_KEYS}
    return DevcontainerConfig(
        source=source,
        name=_optional(doc, "name", _str),
        image=_optional(doc, "image", _nonempty_str),
        build=build,
        container_env=_optional(doc, "containerEnv", _str_map) or {},
        remote_env=_optional(doc, "remoteEnv", _env_map) or {},
        remote_user=_optional(doc, "remoteUser", _nonempty_str),
        container_user=_optional(doc, "containerUser", _nonempty_str),
        forward_ports=_optional(doc, "forwardPorts", _ports) or [],
        on_create=steps["onCreateCommand"],
        update_content=steps["updateContentCommand"],
        post_create=steps["postCreateCommand"],
        post_start=steps["postStartCommand"],
        post_attach=steps["postAttachCommand"],
        extensions=extensions,
        workspace_folder=_optional(doc, "workspaceFolder", _nonempty_str),
        unsupported=sorted(unsupported),
    )


def _build(doc: dict[str, object], base: str, unsupported: list[str]) -> Build | None:
    """``build`` (or the older top-level ``dockerFile``/``context``) as a Build, or None.

    Adds ``build.<key>`` to ``unsupported`` for build keys WWS does not pass on, and the
    top-level ``context`` when there is no top-level ``dockerFile`` for it to belong to.
    """
    options = _object(doc["build"], "build") if "build" in doc else {}
    unsupported.extend(_join("build", key) for key in options if key not in _BUILD_KEYS)
    legacy = "dockerFile" in doc
    if legacy:
        unsupported.remove("dockerFile")
        if "context" in doc:
            unsupported.remove("context")
    if "dockerfile" in options:
        if legacy:
            raise DevcontainerError("set build.dockerfile or the older top-level dockerFile, not both", "dockerFile")
        dockerfile_key, dockerfile = "build.dockerfile", options["dockerfile"]
    elif legacy:
        dockerfile_key, dockerfile = "dockerFile", doc["dockerFile"]
    elif "build" in doc:
        raise DevcontainerError(
            "is required when build is set (the Dockerfile's path from this file's folder)", "build.dockerfile"
        )
    else:
        return None
    if "context" in options:
        context_key, context = "build.context", options["context"]
    elif legacy and "context" in doc:
        context_key, context = "context", doc["context"]
    else:
        context_key, context = "build.context", "."
    return Build(
        dockerfile=_in_repo(base, _nonempty_str(dockerfile, dockerfile_key), dockerfile_key),
        context=_in_repo(base, _nonempty_str(context, context_key), context_key),
        args=_str_map(options["args"], "build.args") if "args" in options else {},
        target=_nonempty_str(options["target"], "build.target") if "target" in options else None,
    )


def _customizations(value: object, unsupported: list[str]) -> list[str]:
    """``customizations.vscode.extensions``; every other tool or vscode key is unsupported."""
    extensions: list[str] = []
    for tool, settings in _object(value, "customizations").items():
        tool_path = _join("customizations", tool)
        if tool != "vscode":
            unsupported.append(tool_path)
            continue
        for key, item in _object(settings, tool_path).items():
            if key == "extensions":
                extensions = _str_list(item, _join(tool_path, key))
            else:
                unsupported.append(_join(tool_path, key))
    return extensions


def _lifecycle(value: object, path: str) -> Lifecycle:
    """A lifecycle command in string, array or object form."""
    if isinstance(value, dict):
        commands = [_command(entry, _join(path, name), name) for name, entry in value.items()]
        return Lifecycle([command for command in commands if command is not None])
    if isinstance(value, str | list):
        command = _command(value, path, None)
        return Lifecycle([] if command is None else [command])
    raise DevcontainerError(
        f"must be a command string, an array of arguments, or an object of named commands, not {_describe(value)}",
        path,
    )


def _command(value: object, path: str, name: str | None) -> Command | None:
    """One string or argv command; None when it is empty (there is nothing to run)."""
    if isinstance(value, str):
        return Command(value, name) if value.strip() else None
    if isinstance(value, list):
        argv = _str_list(value, path)
        return Command(argv, name) if argv else None
    raise DevcontainerError(f"must be a command string or an array of arguments, not {_describe(value)}", path)


def _ports(value: object, path: str) -> list[int | str]:
    if not isinstance(value, list):
        raise DevcontainerError(
            f'must be an array of port numbers or "host:port" strings, not {_describe(value)}', path
        )
    return [_port(item, _index(path, i)) for i, item in enumerate(value)]


def _port(value: object, path: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 65535:
            return value
        raise DevcontainerError(f"port {value} is out of range (0-65535)", path)
    if isinstance(value, str):
        match = _HOST_PORT.fullmatch(value)
        if match is not None and int(match.group(2)) <= 65535:
            return value
        hint = f" (write {value} without quotes)" if value.isdigit() else ""
        raise DevcontainerError(f'must be a port number or a "host:port" string, not {json.dumps(value)}{hint}', path)
    raise DevcontainerError(f'must be a port number or a "host:port" string, not {_describe(value)}', path)


def _in_repo(base: str, value: str, path: str) -> str:
    """``value``, relative to the folder ``base``, as a normalised path from the repository root."""
    if value.startswith("/"):
        raise DevcontainerError(
            f"must be a path relative to the devcontainer.json folder, not {json.dumps(value)}", path
        )
    resolved = posixpath.normpath(posixpath.join(base, value))
    if _escapes(resolved):
        raise DevcontainerError(f"{json.dumps(value)} points outside the repository", path)
    return resolved


def _escapes(normalised: str) -> bool:
    return normalised == ".." or normalised.startswith("../")


# --- shape checks shared by parse and from_json ----------------------------------------


def _join(path: str, key: str) -> str:
    """``path.key``; keys with dots, brackets, quotes or spaces are written ``path["key"]``."""
    if _PLAIN_KEY.fullmatch(key) is None:
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _index(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _describe(value: object) -> str:
    """A JSON value's kind as a message names it ("a number", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _object(value: object, path: str, *, what: str = "") -> dict[str, object]:
    """``value`` as an object; ``what`` names a value that has no key path (the whole document)."""
    if not isinstance(value, dict):
        message = f"must be an object, not {_describe(value)}"
        raise DevcontainerError(f"{what} {message}" if what else message, path or None)
    return value


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise DevcontainerError(f"must be a string, not {_describe(value)}", path)
    return value


def _nonempty_str(value: object, path: str) -> str:
    text = _str(value, path)
    if not text.strip():
        raise DevcontainerError("must not be empty", path)
    return text


def _optional_str(value: object, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _str_list(value: object, path: str) -> list[str]:
    if not isinstance(value, list):
        raise DevcontainerError(f"must be an array of strings, not {_describe(value)}", path)
    return [_str(item, _index(path, i)) for i, item in enumerate(value)]


def _str_map(value: object, path: str) -> dict[str, str]:
    return {key: _str(item, _join(path, key)) for key, item in _object(value, path).items()}


def _env_map(value: object, path: str) -> dict[str, str | None]:
    """Like ``_str_map`` but ``null`` is allowed: in ``remoteEnv`` it unsets the variable."""
    return {key: _optional_str(item, _join(path, key)) for key, item in _object(value, path).items()}


def _optional(doc: Mapping[str, object], key: str, check: Callable[[object, str], _T]) -> _T | None:
    return check(doc[key], key) if key in doc else None


# --- variables -------------------------------------------------------------------------


def substitute(
    value: str,
    *,
    local_env: Mapping[str, str],
    container_env: Mapping[str, str],
    local_folder: str,
    container_folder: str,
    devcontainer_id: str,
) -> str:
    """Replace the spec's ``${...}`` variables in ``value``; unknown ones are left as written.

    ``${localEnv:VAR}`` (and its older spelling ``${env:VAR}``) and ``${containerEnv:VAR}``
    are empty when VAR is unset, or the default in ``${localEnv:VAR:default}``. As in the
    reference CLI, a default ends at the next ``:``, and ``container_folder`` may itself use
    the local variables (``/workspaces/${localWorkspaceFolderBasename}``). A variable with no
    name (``${localEnv}``) is left as written rather than failing the whole file.
    """
    local = {
        "localWorkspaceFolder": local_folder,
        "localWorkspaceFolderBasename": PurePosixPath(local_folder).name,
        "devcontainerId": devcontainer_id,
    }
    envs = {"localEnv": local_env, "env": local_env}
    folder = _replace(container_folder, local, envs)
    variables = {
        **local,
        "containerWorkspaceFolder": folder,
        "containerWorkspaceFolderBasename": PurePosixPath(folder).name,
    }
    return _replace(value, variables, {**envs, "containerEnv": container_env})


def _replace(value: str, variables: Mapping[str, str], envs: Mapping[str, Mapping[str, str]]) -> str:
    def one(match: re.Match[str]) -> str:
        name, *args = match.group(1).split(":")
        if name in envs:
            if not args:
                return match.group(0)
            found = envs[name].get(args[0])
            if found is not None:
                return found
            return args[1] if len(args) > 1 else ""
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(one, value)


# --- wire format -----------------------------------------------------------------------

_WIRE_LIFECYCLE = ("on_create", "update_content", "post_create", "post_start", "post_attach")
_WIRE_KEYS = (
    "source",
    "name",
    "image",
    "build",
    "container_env",
    "remote_env",
    "remote_user",
    "container_user",
    "forward_ports",
    *_WIRE_LIFECYCLE,
    "extensions",
    "workspace_folder",
    "unsupported",
)


def to_json(config: DevcontainerConfig) -> dict[str, object]:
    """``config`` as plain JSON values (snake_case keys), for the init program to send the host."""
    build = config.build
    return {
        "source": config.source,
        "name": config.name,
        "image": config.image,
        "build": None
        if build is None
        else {
            "dockerfile": build.dockerfile,
            "context": build.context,
            "args": dict(build.args),
            "target": build.target,
        },
        "container_env": dict(config.container_env),
        "remote_env": dict(config.remote_env),
        "remote_user": config.remote_user,
        "container_user": config.container_user,
        "forward_ports": list(config.forward_ports),
        **{key: _lifecycle_json(step) for key, step in zip(_WIRE_LIFECYCLE, _steps(config), strict=True)},
        "extensions": list(config.extensions),
        "workspace_folder": config.workspace_folder,
        "unsupported": list(config.unsupported),
    }


def _steps(config: DevcontainerConfig) -> list[Lifecycle]:
    return [step for _, step in config.lifecycle()]


def _lifecycle_json(step: Lifecycle) -> list[dict[str, object]]:
    return [
        {"name": c.name, "command": c.command if isinstance(c.command, str) else list(c.command)} for c in step.commands
    ]


def from_json(data: object) -> DevcontainerConfig:
    """The DevcontainerConfig that ``to_json`` gave, checked again.

    The host gets this from inside the workspace, which the workspace user controls, so
    every type is checked and build paths must still stay inside the repository. Raises
    DevcontainerError naming the key.
    """
    doc = _object(data, "", what="the config")
    missing = [key for key in _WIRE_KEYS if key not in doc]
    unexpected = sorted(key for key in doc if key not in _WIRE_KEYS)
    if missing or unexpected:
        raise DevcontainerError(f"keys missing: {missing}, keys not expected: {unexpected}")
    steps = [_lifecycle_from_json(doc[key], key) for key in _WIRE_LIFECYCLE]
    return DevcontainerConfig(
        source=_str(doc["source"], "source"),
        name=_optional_str(doc["name"], "name"),
        image=_optional_str(doc["image"], "image"),
        build=None if doc["build"] is None else _build_from_json(doc["build"]),
        container_env=_str_map(doc["container_env"], "container_env"),
        remote_env=_env_map(doc["remote_env"], "remote_env"),
        remote_user=_optional_str(doc["remote_user"], "remote_user"),
        container_user=_optional_str(doc["container_user"], "container_user"),
        forward_ports=_ports(doc["forward_ports"], "forward_ports"),
        on_create=steps[0],
        update_content=steps[1],
        post_create=steps[2],
        post_start=steps[3],
        post_attach=steps[4],
        extensions=_str_list(doc["extensions"], "extensions"),
        workspace_folder=_optional_str(doc["workspace_folder"], "workspace_folder"),
        unsupported=_str_list(doc["unsupported"], "unsupported"),
    )


def _build_from_json(value: object) -> Build:
    build = _object(value, "build")
    if set(build) != _BUILD_KEYS:
        raise DevcontainerError(f"must have exactly the keys {sorted(_BUILD_KEYS)}", "build")
    return Build(
        dockerfile=_repo_path(build["dockerfile"], "build.dockerfile"),
        context=_repo_path(build["context"], "build.context"),
        args=_str_map(build["args"], "build.args"),
        target=_optional_str(build["target"], "build.target"),
    )


def _repo_path(value: object, path: str) -> str:
    """A path as ``parse`` stores it: relative, normalised, inside the repository."""
    text = _str(value, path)
    if text.startswith("/") or text != posixpath.normpath(text) or _escapes(text):
        raise DevcontainerError(f"must be a normalised path inside the repository, not {json.dumps(text)}", path)
    return text


def _lifecycle_from_json(value: object, path: str) -> Lifecycle:
    if not isinstance(value, list):
        raise DevcontainerError(f"must be an array of commands, not {_describe(value)}", path)
    commands: list[Command] = []
    for i, item in enumerate(value):
        item_path = _index(path, i)
        entry = _object(item, item_path)
        if set(entry) != {"name", "command"}:
            raise DevcontainerError('must have exactly the keys "name" and "command"', item_path)
        command = entry["command"]
        command_path = f"{item_path}.command"
        checked = command if isinstance(command, str) else _str_list(command, command_path)
        commands.append(Command(checked, _optional_str(entry["name"], f"{item_path}.name")))
    return Lifecycle(commands)
