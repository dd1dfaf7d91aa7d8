"""The git fixtures themselves: real ``git`` over real HTTP with token auth, the GitHub
stand-in, and the dotfiles repositories."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from tests.fixtures.git import DotfilesRepo, GitHubStub, GitServer, isolated_git_env

pytestmark = pytest.mark.integration

ASKPASS = """#!/bin/sh
case "$1" in
  Username*) echo x-access-token ;;
  *) echo "$WWS_TEST_GIT_TOKEN" ;;
esac
"""
# a credential helper that reads the token from the environment, never from the command line
HELPER = '!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$WWS_TEST_GIT_TOKEN"; }; f'


def run_git(
    tmp_path: Path, *args: str, token: str | None = None, how: str = "askpass", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``git`` with an isolated HOME, ``GIT_TERMINAL_PROMPT=0`` and, when ``token`` is given, the
    token supplied through ``GIT_ASKPASS`` or a credential helper (never in the URL)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = isolated_git_env(
        home,
        GIT_AUTHOR_NAME="Tester",
        GIT_AUTHOR_EMAIL="tester@wws.test",
        GIT_COMMITTER_NAME="Tester",
        GIT_COMMITTER_EMAIL="tester@wws.test",
    )
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    pre: list[str] = []
    if token is not None:
        env["WWS_TEST_GIT_TOKEN"] = token
        if how == "askpass":
            askpass = tmp_path / "askpass.sh"
            askpass.write_text(ASKPASS)
            askpass.chmod(0o755)
            env["GIT_ASKPASS"] = str(askpass)
        else:
            pre = ["-c", "credential.helper=", "-c", f"credential.helper={HELPER}"]
    return subprocess.run(
        ["git", *pre, *args], cwd=cwd or tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    return proc


def test_clone_with_the_token(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.create_repo(
        "private", {"README.md": "hello\n", "bin/run": "#!/bin/sh\necho hi\n"}, executable={"bin/run"}
    )
    assert url == f"http://127.0.0.1:{git_server.port}/private.git"
    assert git_server.token not in url

    ok(run_git(tmp_path, "clone", url, "work", token=git_server.token))

    work = tmp_path / "work"
    assert (work / "README.md").read_text() == "hello\n"
    assert os.access(work / "bin" / "run", os.X_OK)
    assert ok(run_git(tmp_path, "rev-parse", "HEAD", cwd=work)).stdout.split() == git_server.commits("private")
    assert ok(run_git(tmp_path, "branch", "--show-current", cwd=work)).stdout.strip() == "main"
    # the first request goes out without credentials and is refused; the retry carries Basic auth
    assert git_server.requests[0][2] == ""
    assert any(m == "POST" and p.endswith("/git-upload-pack") and s == "Basic" for m, p, s in git_server.requests)


def test_clone_with_a_credential_helper(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.create_repo("org/helper", {"a.txt": "a\n"})
    assert url.endswith("/org/helper.git")
    ok(run_git(tmp_path, "clone", url, "work", token=git_server.token, how="helper"))
    assert (tmp_path / "work" / "a.txt").read_text() == "a\n"


def test_clone_without_the_token_fails(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.create_repo("private", {"README.md": "hello\n"})
    proc = run_git(tmp_path, "clone", url, "work")
    assert proc.returncode != 0
    assert not (tmp_path / "work").exists()
    assert {s for _, _, s in git_server.requests} == {""}


def test_clone_with_a_wrong_token_fails(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.create_repo("private", {"README.md": "hello\n"})
    proc = run_git(tmp_path, "clone", url, "work", token="not-" + git_server.token)
    assert proc.returncode != 0
    assert "Authentication failed" in proc.stderr
    assert not (tmp_path / "work").exists()


def test_unauthenticated_answer_is_401_with_the_realm(git_server: GitServer) -> None:
    git_server.create_repo("private", {"README.md": "hello\n"})
    conn = http.client.HTTPConnection("127.0.0.1", git_server.port, timeout=10)
    conn.request("GET", "/private.git/info/refs?service=git-upload-pack")
    resp = conn.getresponse()
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="wws-test"'
    conn.close()


def test_push(git_server: GitServer, tmp_path: Path) -> None:
    url = git_server.create_repo("pushme", {"README.md": "v1\n"})
    ok(run_git(tmp_path, "clone", url, "work", token=git_server.token))
    work = tmp_path / "work"
    (work / "README.md").write_text("v2\n")
    # incompressible and larger than http.postBuffer: git sends the pack chunked
    (work / "blob.bin").write_bytes(os.urandom(200_000))
    ok(run_git(tmp_path, "add", "-A", cwd=work))
    ok(run_git(tmp_path, "commit", "-q", "-m", "second", cwd=work))
    ok(run_git(tmp_path, "-c", "http.postBuffer=65536", "push", "origin", "main", cwd=work, token=git_server.token))

    head = ok(run_git(tmp_path, "rev-parse", "HEAD", cwd=work)).stdout.strip()
    assert git_server.commits("pushme")[0] == head
    assert len(git_server.commits("pushme")) == 2
    assert git_server.file_at("pushme", "README.md") == "v2\n"
    assert any(p.endswith("/git-receive-pack") and s == "Basic" for m, p, s in git_server.requests if m == "POST")

    # and a new branch, fetched back by a second clone
    ok(run_git(tmp_path, "push", "origin", "main:feature", cwd=work, token=git_server.token, how="helper"))
    assert git_server.commits("pushme", "feature") == git_server.commits("pushme")
    ok(run_git(tmp_path, "clone", "-b", "feature", url, "again", token=git_server.token))
    assert (tmp_path / "again" / "README.md").read_text() == "v2\n"


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def test_gzip_and_chunked_request_bodies_reach_the_backend(git_server: GitServer) -> None:
    """What git sends for large negotiations: a gzip-compressed, chunked upload-pack request."""
    git_server.create_repo("raw", {"f": "x\n"})
    want = git_server.commits("raw")[0]
    body = pkt_line(f"want {want}\n") + b"0000" + pkt_line("done\n")
    packed = gzip.compress(body)
    conn = http.client.HTTPConnection("127.0.0.1", git_server.port, timeout=10)
    conn.request(
        "POST",
        "/raw.git/git-upload-pack",
        body=iter([packed[:10], packed[10:]]),
        headers={
            "Authorization": "Basic " + base64.b64encode(f"u:{git_server.token}".encode()).decode(),
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        encode_chunked=True,
    )
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 200, data
    assert resp.getheader("Content-Type") == "application/x-git-upload-pack-result"
    assert b"PACK" in data


def test_token_is_not_in_the_repr(git_server: GitServer, github_stub: GitHubStub) -> None:
    assert git_server.token not in repr(git_server)
    assert git_server.token not in repr(github_stub)


# --------------------------------------------------------------------------------------------
# GitHub stand-in


def api(
    stub: GitHubStub, method: str, path: str, body: object = None, *, auth: str | None = "bearer"
) -> tuple[int, dict[str, object]]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {stub.token}"
    elif auth == "token":
        headers["Authorization"] = f"token {stub.token}"
    elif auth is not None:
        headers["Authorization"] = auth
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    parsed = urllib.parse.urlsplit(stub.api_url)
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, data


def test_github_stub_creates_a_repository_that_clones(
    github_stub: GitHubStub, git_server: GitServer, tmp_path: Path
) -> None:
    assert not github_stub.api_url.endswith("/")
    status, user = api(github_stub, "GET", "/user")
    assert status == 200 and user["login"] == github_stub.login

    status, repo = api(
        github_stub, "POST", "/user/repos", {"name": "proj", "private": True, "description": "d", "auto_init": True}
    )
    assert status == 201, repo
    assert repo["full_name"] == f"{github_stub.login}/proj"
    assert repo["name"] == "proj" and repo["private"] is True and repo["default_branch"] == "main"
    assert repo["clone_url"] == git_server.url(f"{github_stub.login}/proj")
    assert isinstance(repo["html_url"], str)
    assert github_stub.created == [repo]

    ok(run_git(tmp_path, "clone", str(repo["clone_url"]), "work", token=github_stub.token))
    assert (tmp_path / "work" / "README.md").read_text().startswith("# proj")

    status, got = api(github_stub, "GET", f"/repos/{github_stub.login}/proj", auth="token")
    assert status == 200 and got["clone_url"] == repo["clone_url"]
    status, missing = api(github_stub, "GET", f"/repos/{github_stub.login}/nope")
    assert status == 404 and missing["message"] == "Not Found"


def test_github_stub_org_repository_without_auto_init_is_empty(
    github_stub: GitHubStub, git_server: GitServer, tmp_path: Path
) -> None:
    status, repo = api(github_stub, "POST", "/orgs/acme/repos", {"name": "empty", "private": False})
    assert status == 201, repo
    assert repo["full_name"] == "acme/empty" and repo["private"] is False
    assert git_server.commits("acme/empty") == []
    # an empty repository still clones (with a warning) and accepts a first push
    ok(run_git(tmp_path, "clone", str(repo["clone_url"]), "work", token=github_stub.token))
    work = tmp_path / "work"
    (work / "f.txt").write_text("first\n")
    ok(run_git(tmp_path, "add", "f.txt", cwd=work))
    ok(run_git(tmp_path, "commit", "-q", "-m", "first", cwd=work))
    ok(run_git(tmp_path, "push", "origin", "HEAD:main", cwd=work, token=github_stub.token))
    assert git_server.file_at("acme/empty", "f.txt") == "first\n"


def test_github_stub_duplicate_name_is_422_in_githubs_shape(github_stub: GitHubStub) -> None:
    assert api(github_stub, "POST", "/user/repos", {"name": "dup", "private": True})[0] == 201
    status, err = api(github_stub, "POST", "/user/repos", {"name": "Dup", "private": True})
    assert status == 422
    assert err["message"] == "Repository creation failed."
    assert err["errors"] == [
        {"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}
    ]
    assert len(github_stub.created) == 1


def test_github_stub_bad_credentials_are_401(github_stub: GitHubStub, git_server: GitServer) -> None:
    for auth in (None, "Bearer wrong", f"Basic {github_stub.token}", f"Bearer {github_stub.token}x"):
        status, err = api(github_stub, "POST", "/user/repos", {"name": "x", "private": True}, auth=auth)
        assert status == 401 and err == {"message": "Bad credentials", "documentation_url": err["documentation_url"]}
        assert api(github_stub, "GET", "/user", auth=auth)[0] == 401
    assert github_stub.created == []
    assert not git_server.has_repo(f"{github_stub.login}/x")


# --------------------------------------------------------------------------------------------
# dotfiles


def _ls_files(tmp_path: Path, repo: DotfilesRepo, token: str) -> dict[str, str]:
    ok(run_git(tmp_path, "clone", repo.url, repo.name, token=token))
    out = ok(run_git(tmp_path, "ls-files", "-s", cwd=tmp_path / repo.name)).stdout
    modes = {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        modes[path] = meta.split()[0]
    return modes


def _run_script(tmp_path: Path, repo: DotfilesRepo) -> Path:
    home = tmp_path / "fakehome"
    home.mkdir()
    subprocess.run(
        [str(tmp_path / repo.name / repo.script)],
        env={"HOME": str(home), "PATH": os.environ["PATH"]},
        check=True,
        timeout=30,
    )
    return home


def test_dotfiles_repo_has_an_executable_yadm_bootstrap(
    dotfiles_repo: DotfilesRepo, git_server: GitServer, tmp_path: Path
) -> None:
    assert dotfiles_repo.url == git_server.url(dotfiles_repo.name)
    modes = _ls_files(tmp_path, dotfiles_repo, git_server.token)
    assert modes == {".config/yadm/bootstrap": "100755", ".gitconfig": "100644", ".zshrc": "100644"}
    assert dotfiles_repo.marker_line == "export WWS_DOTFILES_MARKER=1"
    assert dotfiles_repo.marker_line in git_server.file_at(dotfiles_repo.name, ".zshrc").splitlines()
    assert f"name = {dotfiles_repo.git_user_name}" in git_server.file_at(dotfiles_repo.name, ".gitconfig")

    home = _run_script(tmp_path, dotfiles_repo)
    assert (home / dotfiles_repo.script_marker).is_file()
    assert dotfiles_repo.script_marker == ".dotfiles-bootstrapped"


def test_dotfiles_repo_install_sh(
    dotfiles_repo_install_sh: DotfilesRepo, git_server: GitServer, tmp_path: Path
) -> None:
    repo = dotfiles_repo_install_sh
    modes = _ls_files(tmp_path, repo, git_server.token)
    assert modes == {"install.sh": "100755", ".gitconfig": "100644", ".zshrc": "100644"}
    assert repo.script == "install.sh"

    home = _run_script(tmp_path, repo)
    assert (home / repo.script_marker).is_file()
    assert repo.marker_line in (home / ".zshrc").read_text().splitlines()
