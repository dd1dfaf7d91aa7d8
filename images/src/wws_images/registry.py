"""Is a container registry reachable? Decides between ``FROM debian`` and debootstrap."""

from __future__ import annotations

import urllib.error
import urllib.request

REGISTRY_BASE = "docker.io/library/debian:bookworm"


def reachable(url: str = "https://registry-1.docker.io/v2/", timeout: float = 3.0) -> bool:
    """True when the registry answers at all (401 counts: it is there)."""
    try:
        urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed https URL
    except urllib.error.HTTPError:
        return True
    except (TimeoutError, urllib.error.URLError, OSError):
        return False
    return True
