"""Typed settings from the environment: ``WWS_<SERVICE>_<FIELD>`` wins over ``WWS_<FIELD>``.

Settings are loaded once in ``main()`` and passed down; nothing reads the environment later.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

import msgspec


class ConfigError(Exception):
    """Settings could not be loaded; the message names the variable."""


class Secret(str):
    """A string that never shows itself in ``repr`` (settings are logged at start-up)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server URL(s), comma-separated."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Minimum log level."""
    log_format: Literal["json", "console"] = "json"
    """``json`` (one object per line) or ``console`` (for people)."""
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    """Where spans go: nowhere, stderr, or OTLP/HTTP at ``otel_endpoint``."""
    otel_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    """OTLP/HTTP traces endpoint, used when ``otel_exporter=otlp``."""
    shutdown_grace: float = 10.0
    """Seconds in-flight work gets after SIGTERM before it is cancelled."""


S = TypeVar("S", bound=msgspec.Struct)


def _dec_hook(typ: type, value: object) -> object:
    if typ is Secret and isinstance(value, str):
        return Secret(value)
    if typ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot convert to {typ}")


def env_names(cls: type[msgspec.Struct], service: str) -> list[tuple[str, str]]:
    """(field, variable) pairs for documentation: the service-specific name first."""
    return [(f.name, f"WWS_{service.upper()}_{f.name.upper()}") for f in msgspec.structs.fields(cls)]


def load_settings(cls: type[S], *, service: str, environ: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from the environment. ``WWS_<SERVICE>_X`` beats ``WWS_X``; a
    ``*_FILE`` variant reads the value from a file (for secrets mounted by the platform)."""
    env = os.environ if environ is None else environ
    names = {f.name for f in msgspec.structs.fields(cls)}
    own = f"WWS_{service.upper()}_"
    raw: dict[str, object] = {}
    shared: dict[str, object] = {}
    for key, value in env.items():
        if not key.startswith("WWS_"):
            continue
        target, name = (raw, key.removeprefix(own).lower()) if key.startswith(own) else (shared, key[4:].lower())
        if name.endswith("_file") and name.removesuffix("_file") in names:
            name = name.removesuffix("_file")
            try:
                value = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{service}: {key}: cannot read {value}: {exc.strerror}") from exc
        if name in names:
            target[name] = value
        elif target is raw:
            raise ConfigError(f"{service}: unknown setting {key}")
    merged = {**shared, **raw}
    try:
        return msgspec.convert(merged, cls, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{service}: {_explain(exc, service)}") from exc


def _explain(exc: msgspec.ValidationError, service: str) -> str:
    text = str(exc)
    if "- at `$." in text:
        msg, _, path = text.rpartition(" - at `$.")
        field = path.rstrip("`").split(".")[0].split("[")[0]
        return f"WWS_{service.upper()}_{field.upper()}: {msg}"
    if text.startswith("Object missing required field `"):
        field = text.split("`")[1]
        return f"WWS_{service.upper()}_{field.upper()} (or WWS_{field.upper()}) is required"
    return text


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string right under a field) of ``cls`` and its bases."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in ("builtins", "msgspec"):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs
