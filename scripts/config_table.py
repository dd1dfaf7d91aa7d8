"""Render the README's configuration table from the settings classes (the single source
of truth). ``uv run python -m scripts.config_table`` prints it; tests/unit/test_docs.py fails
when README.md is out of date."""

from __future__ import annotations

import msgspec

from wws_api.settings import ApiSettings
from wws_audit.settings import AuditSettings
from wws_provisioner.settings import ProvisionerSettings
from wws_reaper.settings import ReaperSettings
from wws_service.settings import CommonSettings, field_docs

SERVICES: list[tuple[str, type[msgspec.Struct]]] = [
    ("api", ApiSettings),
    ("provisioner", ProvisionerSettings),
    ("reaper", ReaperSettings),
    ("audit", AuditSettings),
]

STACK = [
    (
        "WWS_STATE_DIR",
        ".wws/state",
        "wws-stack",
        "Where the embedded stack keeps NATS and PostgreSQL data, logs, the admin token and the audit signing key.",
    ),
    ("WWS_STACK_API_PORT", "8080", "wws-stack", "Port of the API in the embedded stack."),
    ("WWS_STACK_NATS_PORT", "4222", "wws-stack", "Port of the embedded NATS server."),
    (
        "WWS_STACK_PODMAN_SOCKET",
        "/run/podman/podman.sock",
        "wws-stack",
        "Podman API socket; the stack starts `podman system service` on it if nothing answers.",
    ),
    ("WWS_STACK_DEMO", "1", "wws-stack", "Create (or start) the `demo` workspace on `up`."),
    (
        "WWS_STACK_DEMO_TEMPLATE",
        "base",
        "wws-stack",
        "Template of the demo workspace (`base`, or `python`/`polyglot` for code-server and toolchains; their image is built on first use).",
    ),
    (
        "WWS_STACK_BUILD_IMAGES",
        "1",
        "wws-stack",
        "Build the base workspace image on `up` when its inputs changed (a no-op otherwise).",
    ),
]


def _default(cls: type[msgspec.Struct], name: str) -> str:
    for f in msgspec.structs.fields(cls):
        if f.name == name:
            if f.default is not msgspec.NODEFAULT:
                value = f.default
            elif f.default_factory is not msgspec.NODEFAULT:
                return "hostname" if name == "host_id" else "(computed)"
            else:
                return "**required**"
            if isinstance(value, bool):
                return "true" if value else "false"
            if value == "":
                return "(empty)"
            if value is None:
                return "(unset)"
            return str(value)
    raise KeyError(name)


def rows() -> list[tuple[str, str, str, str]]:
    common = {f.name for f in msgspec.structs.fields(CommonSettings)}
    cdocs = field_docs(CommonSettings)
    out: list[tuple[str, str, str, str]] = [
        (f"WWS_{name.upper()}", _default(CommonSettings, name), "all services", cdocs.get(name, ""))
        for name in sorted(common)
    ]
    shared: dict[str, list[str]] = {}
    for svc, cls in SERVICES:
        for f in msgspec.structs.fields(cls):
            if f.name not in common:
                shared.setdefault(f.name, []).append(svc)
    seen_shared: set[str] = set()
    for svc, cls in SERVICES:
        docs = field_docs(cls)
        for f in msgspec.structs.fields(cls):
            if f.name in common:
                continue
            users = shared[f.name]
            if len(users) > 1:
                if f.name in seen_shared:
                    continue
                seen_shared.add(f.name)
                var = f"WWS_{f.name.upper()}"
                where = ", ".join(users)
            else:
                var = f"WWS_{svc.upper()}_{f.name.upper()}"
                where = svc
            out.append((var, _default(cls, f.name), where, docs.get(f.name, "")))
    out.extend(STACK)
    return out


def render() -> str:
    lines = [
        "| Variable | Default | Used by | Meaning |",
        "|---|---|---|---|",
    ]
    for var, default, where, doc in rows():
        lines.append(f"| `{var}` | `{default}` | {where} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
