"""Dev image naming is pure: the control plane calls it without Podman."""

from __future__ import annotations

import itertools
import subprocess
from typing import Any

import pytest

from wws_images import LANGUAGES, cli, dev, image_for_languages, languages


@pytest.fixture
def no_podman(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"must not run a process: {args!r}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_languages_are_the_four_sorted() -> None:
    assert LANGUAGES == ("go", "node", "python", "rust")
    assert tuple(sorted(LANGUAGES)) == LANGUAGES


@pytest.mark.usefixtures("no_podman")
@pytest.mark.parametrize(
    ("langs", "ref"),
    [
        ([], "localhost/wws-dev:ide"),
        (["python"], "localhost/wws-dev:python"),
        (["python", "go"], "localhost/wws-dev:go-python"),
        (["rust", "python", "node", "go"], "localhost/wws-dev:go-node-python-rust"),
        (("go", "go", "python"), "localhost/wws-dev:go-python"),
        ({"node"}, "localhost/wws-dev:node"),
        ([" Python ", "GO"], "localhost/wws-dev:go-python"),
    ],
)
def test_image_for_languages(langs: list[str], ref: str) -> None:
    assert image_for_languages(langs) == ref


def test_image_for_languages_takes_any_iterable() -> None:
    assert image_for_languages(iter(LANGUAGES)) == "localhost/wws-dev:go-node-python-rust"
    assert image_for_languages(lang for lang in ["rust"]) == "localhost/wws-dev:rust"


def test_unknown_language_is_named() -> None:
    with pytest.raises(ValueError, match="'cobol'"):
        image_for_languages(["python", "cobol"])
    with pytest.raises(ValueError, match="unknown language ''"):
        image_for_languages([""])


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(TypeError, match="collection"):
        image_for_languages("python")


@pytest.mark.usefixtures("no_podman")
def test_every_set_has_its_own_image_and_the_builder_agrees() -> None:
    refs = set()
    for n in range(len(LANGUAGES) + 1):
        for combo in itertools.combinations(LANGUAGES, n):
            definition = dev.definition(reversed(combo))
            assert definition.ref == image_for_languages(combo)
            assert definition.build_args["LANGUAGES"] == " ".join(combo)
            refs.add(definition.ref)
    assert len(refs) == 2 ** len(LANGUAGES)


def test_packages_follow_the_languages() -> None:
    assert languages.packages_for(["rust", "go"]) == ("golang-go", "rustc", "cargo")
    assert languages.packages_for(["python"]) == ("python3", "python3-venv", "python3-pip", "python3-dev")
    assert languages.packages_for(["node"]) == ("nodejs", "npm", "libnode-dev")  # headers: node-gyp offline
    assert languages.packages_for([]) == ()


@pytest.mark.parametrize(
    ("text", "langs"),
    [
        ("python,go", ("go", "python")),
        ("go, python", ("go", "python")),
        ("all", LANGUAGES),
        ("ALL", LANGUAGES),
        ("none", ()),
        ("", ()),
    ],
)
def test_cli_language_lists(text: str, langs: tuple[str, ...]) -> None:
    assert languages.parse(text) == langs


@pytest.mark.usefixtures("no_podman")
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["build", "dev", "--languages", "python,cobol"], "unknown language 'cobol'"),
        (["build", "--languages", "fortran"], "unknown language 'fortran'"),
        (["build", "nope"], "unknown image 'nope'"),
        (["build", "base", "--languages", "go"], "--languages applies to the dev image"),
    ],
)
def test_cli_bad_requests_exit_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.startswith("wws-images: ")
    assert err.count("\n") == 1
