"""``git credential`` helper (``get`` only): the token from ``/run/wws/secrets`` for the
hosts the workspace's repository lives on. Other hosts get nothing, so the token is never
offered to a server it was not meant for."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from wws_init.config import RUN_DIR, SECRETS_DIR

HOSTS_FILE = RUN_DIR / "credential-hosts"
CREDENTIAL_FILE = "git-token"
"""The secret file with the repository token (its name matches the API's credential name)."""


def host_of(url: str) -> str | None:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1].lower() if parts.scheme in ("http", "https") and parts.netloc else None


def allowed_hosts(hosts_file: Path = HOSTS_FILE) -> set[str]:
    try:
        return {line.strip().lower() for line in hosts_file.read_text(encoding="utf-8").splitlines() if line.strip()}
    except OSError:
        return set()


def answer(
    request: dict[str, str], *, secrets_dir: Path = SECRETS_DIR, hosts_file: Path = HOSTS_FILE
) -> dict[str, str]:
    """The fields to print for a ``get`` request (empty: this helper does not know)."""
    host = request.get("host", "").lower()
    if request.get("protocol") not in ("http", "https") or host not in allowed_hosts(hosts_file):
        return {}
    try:
        token = (secrets_dir / CREDENTIAL_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return {}
    return {"username": "x-access-token", "password": token} if token else {}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "get":
        return 0  # store/erase: WWS keeps the token itself
    request: dict[str, str] = {}
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            break
        key, _, value = line.partition("=")
        request[key] = value
    for key, value in answer(request).items():
        sys.stdout.write(f"{key}={value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
