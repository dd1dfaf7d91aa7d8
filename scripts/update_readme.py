"""Write the generated configuration table into README.md between its markers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from config_table import render  # noqa: E402 - the script's own directory

START, END = "<!-- config:start -->", "<!-- config:end -->"


def updated(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}{END}{tail}"


if __name__ == "__main__":
    readme = Path(__file__).parents[1] / "README.md"
    readme.write_text(updated(readme.read_text(encoding="utf-8")), encoding="utf-8")
