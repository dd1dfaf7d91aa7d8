"""Documentation that is generated from code must be current."""

from __future__ import annotations

from pathlib import Path

from scripts import config_table, update_readme

ROOT = Path(__file__).parents[2]


def test_readme_configuration_table_is_current() -> None:
    """Every setting of every service is in the README with its default
    (regenerate with ``uv run python -m scripts.update_readme``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update_readme.updated(readme) == readme


def test_every_setting_has_a_description() -> None:
    assert [var for var, _, _, doc in config_table.rows() if not doc] == []
