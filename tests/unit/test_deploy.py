"""deploy/compose.yaml stays consistent with the code: every WWS variable it sets exists,
every service command exists, and secrets come from files, not literals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from scripts.config_table import rows

ROOT = Path(__file__).parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_every_wws_variable_in_compose_is_a_real_setting() -> None:
    known = {var for var, *_ in rows()}
    services = _compose()["services"]
    assert isinstance(services, dict)
    used = set()
    for svc in services.values():
        used |= {k for k in (svc.get("environment") or {}) if k.startswith("WWS_")}
    assert used, "compose sets WWS variables"
    unknown = {k for k in used if k not in known and k.removesuffix("_FILE") not in known}
    assert unknown == set()


def test_service_commands_exist_as_console_scripts() -> None:
    scripts = set()
    for pyproject in (ROOT / "services").glob("*/pyproject.toml"):
        scripts |= set(re.findall(r"^(wws-[a-z]+) =", pyproject.read_text(), flags=re.M))
    for name, svc in _compose()["services"].items():
        command = svc.get("command")
        if command and str(command[0]).startswith("wws-"):
            assert command[0] in scripts, (name, command)


def test_no_secret_literals_in_compose() -> None:
    for svc in _compose()["services"].values():
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("WWS_") and any(w in key for w in ("TOKEN", "KEY", "SECRET", "PASSWORD")):
                assert key.endswith("_FILE"), key
