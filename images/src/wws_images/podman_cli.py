"""The few ``podman`` CLI calls the builder needs (builds stream their progress to the
terminal, which is what a person running ``wws-images build`` wants to see)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


class PodmanError(RuntimeError):
    pass


def run(*args: str, capture: bool = True, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["podman", *args], input=stdin, capture_output=capture, check=False)
    if proc.returncode != 0:
        message = f"podman {' '.join(args[:2])} failed ({proc.returncode})"
        if capture:  # a quiet build's step output is on stdout: keep its tail, it says why
            err = proc.stderr.decode(errors="replace").strip()[-800:]
            out = proc.stdout.decode(errors="replace").strip().splitlines()[-15:]
            message += f": {err}" + ("\n--- last output ---\n" + "\n".join(out) if out else "")
        raise PodmanError(message)
    return proc.stdout.decode(errors="replace") if capture else ""


def image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref], check=False).returncode == 0


def image_id(ref: str) -> str:
    return run("image", "inspect", "--format", "{{.Id}}", ref).strip()


def image_labels(ref: str) -> dict[str, str]:
    out = run("image", "inspect", "--format", "{{json .Labels}}", ref).strip()
    return json.loads(out) or {}


def tag(src: str, dst: str) -> None:
    run("tag", src, dst)


def build(
    context: Path, tag_: str, *, build_args: dict[str, str], labels: dict[str, str], quiet: bool, no_cache: bool = False
) -> None:
    args = ["build", "--no-cache" if no_cache else "--layers", "-f", str(context / "Containerfile"), "-t", tag_]
    for k, v in build_args.items():
        args += ["--build-arg", f"{k}={v}"]
    for k, v in labels.items():
        args += ["--label", f"{k}={v}"]
    args.append(str(context))
    run(*args, capture=quiet)


def import_tar(tar: Path, ref: str) -> None:
    run("import", "--change", "CMD=/bin/bash", str(tar), ref)
