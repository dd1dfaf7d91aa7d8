"""Workspace languages and the dev image that carries a set of them.

Pure: the control plane calls :func:`image_for_languages` to know which image a template
needs (and to prefer hosts that already hold it), so nothing here touches Podman.
"""

from __future__ import annotations

from collections.abc import Iterable

LANGUAGES: tuple[str, ...] = ("go", "node", "python", "rust")
"""Languages a dev image can carry, sorted."""

PACKAGES: dict[str, tuple[str, ...]] = {
    "go": ("golang-go",),
    "node": ("nodejs", "npm", "libnode-dev"),
    "python": ("python3", "python3-venv", "python3-pip", "python3-dev"),
    "rust": ("rustc", "cargo"),
}
"""Each language's Debian (bookworm) packages."""

DEV_REPO = "localhost/wws-dev"
NO_LANGUAGES_TAG = "ide"
"""The tag of the dev image without languages (code-server only)."""


def normalize(languages: Iterable[str]) -> tuple[str, ...]:
    """The distinct languages, sorted; ``ValueError`` naming the first unknown one."""
    if isinstance(languages, str):
        raise TypeError(f"languages must be a collection of names, not the string {languages!r}")
    chosen: set[str] = set()
    for raw in languages:
        name = raw.strip().lower()
        if name not in PACKAGES:
            raise ValueError(f"unknown language {raw!r} (known: {', '.join(LANGUAGES)})")
        chosen.add(name)
    return tuple(sorted(chosen))


def parse(text: str) -> tuple[str, ...]:
    """``"python,go"`` → ``("go", "python")``; ``"all"`` → every language; ``""``/``"none"`` → none."""
    tokens = [t for t in text.replace(",", " ").split() if t]
    if any(t.lower() == "all" for t in tokens):
        return LANGUAGES
    if [t.lower() for t in tokens] == ["none"]:
        return ()
    return normalize(tokens)


def tag_for(languages: Iterable[str]) -> str:
    langs = normalize(languages)
    return "-".join(langs) if langs else NO_LANGUAGES_TAG


def packages_for(languages: Iterable[str]) -> tuple[str, ...]:
    return tuple(pkg for lang in normalize(languages) for pkg in PACKAGES[lang])


def image_for_languages(languages: Iterable[str]) -> str:
    """``localhost/wws-dev:<sorted languages joined by "-">``; no languages: ``localhost/wws-dev:ide``."""
    return f"{DEV_REPO}:{tag_for(languages)}"
