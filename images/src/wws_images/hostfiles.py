"""Files from the build host that images need: its CA bundle and its Debian apt sources."""

from __future__ import annotations

from pathlib import Path

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
DEFAULT_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def debian_sources(path: Path = DEBIAN_SOURCES) -> str:
    """The host's Debian stanzas only (third-party repositories stay out of images)."""
    if not path.exists():
        return DEFAULT_SOURCES
    stanzas = [s.strip() for s in path.read_text(encoding="utf-8").split("\n\n") if s.strip()]
    keep = [s for s in stanzas if "debian.org" in s or "debian-archive-keyring" in s]
    return "\n\n".join(keep) + "\n" if keep else DEFAULT_SOURCES


def mirror(path: Path = DEBIAN_SOURCES) -> str:
    """The Debian mirror the host's apt uses (debootstrap takes the same)."""
    for line in debian_sources(path).splitlines():
        if line.startswith("URIs:"):
            uri = line.split(":", 1)[1].strip().split()[0]
            if not uri.rstrip("/").endswith("-security"):
                return uri
    return "http://deb.debian.org/debian"


def ca_bundle() -> bytes:
    return CA_BUNDLE.read_bytes() if CA_BUNDLE.exists() else b""
