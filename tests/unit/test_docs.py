"""Documentation that is generated from code must be current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _script(name: str) -> object:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_readme_configuration_table_is_current() -> None:
    """Every setting of every service is in the README with its default (run scripts/update_readme.py)."""
    update = _script("update_readme")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update.updated(readme) == readme  # type: ignore[attr-defined]


def test_every_setting_has_a_description() -> None:
    table = _script("config_table")
    missing = [var for var, _, _, doc in table.rows() if not doc]  # type: ignore[attr-defined]
    assert missing == []
