"""Write the generated configuration table into README.md between its markers
(``uv run python -m scripts.update_readme``)."""

from __future__ import annotations

from pathlib import Path

from scripts.config_table import render

START, END = "<!-- config:start -->", "<!-- config:end -->"


def updated(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}{END}{tail}"


if __name__ == "__main__":
    readme = Path(__file__).parents[1] / "README.md"
    readme.write_text(updated(readme.read_text(encoding="utf-8")), encoding="utf-8")
