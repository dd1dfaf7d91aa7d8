"""The base layer without a registry: ``debootstrap`` a minimal bookworm and import it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from wws_images import hostfiles, podman_cli

ROOTFS_REF = "localhost/wws-rootfs:bookworm"


def ensure_rootfs(*, refresh: bool = False, log: bool = True) -> str:
    """``localhost/wws-rootfs:bookworm`` from debootstrap unless it is already there."""
    if podman_cli.image_exists(ROOTFS_REF) and not refresh:
        return ROOTFS_REF
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (run scripts/host-setup.sh, or apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="wws-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        if log:
            print(f"[images] debootstrap bookworm from {hostfiles.mirror()} (about 30-40 s)", flush=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(root), hostfiles.mirror()],
            check=True,
            stdout=subprocess.DEVNULL if not log else None,
        )
        tar_path = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tar_path), "."], check=True)
        if log:
            print(f"[images] importing rootfs as {ROOTFS_REF}", flush=True)
        podman_cli.import_tar(tar_path, ROOTFS_REF)
    return ROOTFS_REF
