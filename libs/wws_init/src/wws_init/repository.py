"""The workspace's repository: clone it into ``~/src/<name>`` on first start (later starts
leave the working tree alone), or first create it through the GitHub REST API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from wws_init.config import SECRETS_DIR, RepoConfig
from wws_init.credential import CREDENTIAL_FILE, HOSTS_FILE, host_of
from wws_init.steps import StepFailed, Steps

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false"}


def repo_name(url: str) -> str:
    path = urlsplit(url).path if "://" in url else url.rsplit(":", 1)[-1]
    name = path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    if not name or name in (".", ".."):
        raise StepFailed(f"cannot tell a directory name from {url!r}")
    return name


def allow_host(url: str) -> None:
    """Let the credential helper answer for ``url``'s host."""
    host = host_of(url)
    if host is None:
        return
    known = set(HOSTS_FILE.read_text(encoding="utf-8").split()) if HOSTS_FILE.exists() else set()
    if host not in known:
        with HOSTS_FILE.open("a", encoding="utf-8") as f:
            f.write(host + "\n")


def _token(repo: RepoConfig) -> str | None:
    if repo.credential is None:
        return None
    try:
        return (SECRETS_DIR / CREDENTIAL_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _call(url: str, headers: dict[str, str], data: bytes | None = None) -> dict[str, object]:
    """One GitHub API call; http(s) only (the URL comes from the workspace's spec)."""
    if not url.startswith(("https://", "http://")):
        raise StepFailed(f"not an http(s) API URL: {url}")
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked
    with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - scheme checked
        result = json.loads(r.read())
    return result if isinstance(result, dict) else {}


def create_on_github(repo: RepoConfig) -> str:
    """POST /user/repos (or /orgs/{owner}/repos); an existing repository of that name is
    reused, so a retried first start does not fail. Returns its clone URL. The token goes in
    a header of an in-process request: never on a command line."""
    assert repo.create is not None
    token = _token(repo)
    if token is None:
        raise StepFailed("creating a repository needs a token, and none was handed to this workspace")
    spec = repo.create
    base = spec.api_url.rstrip("/")
    path = f"/orgs/{spec.owner}/repos" if spec.owner else "/user/repos"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "Content-Type": "application/json",
        "User-Agent": "wws-init",
    }
    body = json.dumps({"name": spec.name, "private": spec.private, "auto_init": True}).encode()
    try:
        return str(_call(base + path, headers, body)["clone_url"])
    except urllib.error.HTTPError as exc:
        if exc.code != 422:
            raise StepFailed(f"GitHub answered {exc.code} creating {spec.name}: {_message(exc)}") from exc
    owner = spec.owner or str(_call(f"{base}/user", headers)["login"])
    try:
        return str(_call(f"{base}/repos/{owner}/{spec.name}", headers)["clone_url"])
    except urllib.error.HTTPError as exc:
        raise StepFailed(f"GitHub answered {exc.code} for {owner}/{spec.name}: {_message(exc)}") from exc


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("message", ""))
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else ""


def ensure(steps: Steps, repo: RepoConfig, home: Path) -> Path | None:
    """Clone (or create then clone) on first start; returns the working tree."""
    src = home / "src"
    marker = home / ".wws" / "repository"
    if marker.exists():
        tree = Path(marker.read_text(encoding="utf-8").strip())
        if (tree / ".git").exists():  # not the first start: leave the working tree alone
            remote = tree_remote(steps, tree)
            if remote:
                allow_host(remote)
            return tree
    url = repo.url
    if repo.create is not None and url is None:
        created: list[str] = []

        def create() -> str:
            created.append(create_on_github(repo))
            return f"created {repo.create.name if repo.create else ''}"

        if not steps.run("repository", "create", create):
            return None
        url = created[0]
    assert url is not None
    allow_host(url)
    tree = src / repo_name(url)

    def clone() -> str:
        if (tree / ".git").exists():
            return f"{tree} already present"
        src.mkdir(parents=True, exist_ok=True)
        argv = ["git", "clone", "--quiet"]
        if repo.branch:
            argv += ["--branch", repo.branch]
        steps.command([*argv, url, str(tree)], env=GIT_ENV, log_name="clone")
        return f"cloned into ~/{tree.relative_to(home)}"

    if not steps.run("repository", "clone", clone):
        return None
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(tree), encoding="utf-8")
    return tree


def tree_remote(steps: Steps, tree: Path) -> str | None:
    try:
        return steps.command(["git", "-C", str(tree), "remote", "get-url", "origin"], env=GIT_ENV).strip() or None
    except StepFailed:
        return None
