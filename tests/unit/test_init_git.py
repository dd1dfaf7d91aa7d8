"""The in-workspace git credential helper and repository naming: the token goes only to
the repository's hosts, over http(s), and never through argv or the environment."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from wws_init import credential
from wws_init.repository import repo_name
from wws_init.steps import StepFailed


@pytest.fixture
def secret_mount(tmp_path: Path) -> tuple[Path, Path]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / credential.CREDENTIAL_FILE).write_text("tok-123\n")
    hosts = tmp_path / "credential-hosts"
    hosts.write_text("git.example.com\n127.0.0.1:8081\n")
    return secrets, hosts


@pytest.mark.parametrize(
    ("request_", "gets"),
    [
        ({"protocol": "https", "host": "git.example.com"}, True),
        ({"protocol": "http", "host": "127.0.0.1:8081"}, True),
        ({"protocol": "https", "host": "GIT.EXAMPLE.COM"}, True),
        ({"protocol": "https", "host": "evil.example.com"}, False),
        ({"protocol": "ssh", "host": "git.example.com"}, False),
        ({"host": "git.example.com"}, False),
    ],
)
def test_token_only_for_the_repositorys_hosts(
    secret_mount: tuple[Path, Path], request_: dict[str, str], gets: bool
) -> None:
    secrets, hosts = secret_mount
    got = credential.answer(request_, secrets_dir=secrets, hosts_file=hosts)
    assert got == ({"username": "x-access-token", "password": "tok-123"} if gets else {})


def test_no_secret_file_no_answer(tmp_path: Path) -> None:
    hosts = tmp_path / "h"
    hosts.write_text("git.example.com\n")
    assert (
        credential.answer({"protocol": "https", "host": "git.example.com"}, secrets_dir=tmp_path, hosts_file=hosts)
        == {}
    )
    assert credential.allowed_hosts(tmp_path / "missing") == set()


def test_helper_protocol_ignores_store_and_erase(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("protocol=https\nhost=git.example.com\n\n"))
    assert credential.main(["helper", "store"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://git.example.com/a/b.git", "git.example.com"),
        ("http://user@127.0.0.1:8081/r.git", "127.0.0.1:8081"),
        ("git@github.com:a/b.git", None),
        ("file:///srv/r.git", None),
    ],
)
def test_host_of(url: str, host: str | None) -> None:
    assert credential.host_of(url) == host


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/acme/api.git", "api"),
        ("https://github.com/acme/api/", "api"),
        ("git@github.com:acme/web.git", "web"),
        ("http://127.0.0.1:8081/git/repo.git", "repo"),
    ],
)
def test_repo_name(url: str, name: str) -> None:
    assert repo_name(url) == name


@pytest.mark.parametrize("url", ["https://github.com/", "https://h/..", "x:"])
def test_repo_name_refuses_what_is_not_a_directory_name(url: str) -> None:
    with pytest.raises(StepFailed):
        repo_name(url)
