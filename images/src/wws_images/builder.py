"""Build workspace images, tagged by a content hash of their inputs.

An image's inputs are its Containerfile and context files, the host files copied in
(CA bundle, apt sources), the base image's id and the build arguments. The image is
tagged ``localhost/wws-<name>:h-<hash12>`` and aliased ``localhost/wws-<name>:<alias>``;
when the hash tag exists the build is skipped, so rebuilding unchanged inputs is a no-op.

The chain: ``base`` (Debian, dev user) → ``ide`` (code-server on a private Node 24) →
``dev`` (one image per language set, see :mod:`wws_images.dev`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from wws_images import hostfiles, locking, podman_cli, registry, rootfs

IMAGES_DIR = Path(__file__).resolve().parents[2]
INPUTS_LABEL = "io.wws.inputs"


@dataclass(frozen=True)
class ImageDef:
    name: str
    alias: str
    directory: Path
    base: str | None = None
    """Another WWS image this one builds on (``None``: the Debian base layer)."""
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def repo(self) -> str:
        return f"localhost/wws-{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.alias}"


BASE = ImageDef(name="base", alias="bookworm", directory=IMAGES_DIR / "base")
IDE = ImageDef(name="ide", alias="bookworm", directory=IMAGES_DIR / "ide", base="base")
DEFINITIONS: dict[str, ImageDef] = {"base": BASE, "ide": IDE}


@dataclass(frozen=True)
class Built:
    ref: str
    hash_ref: str
    inputs: str
    cached: bool
    seconds: float


def _context_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def inputs_hash(image: ImageDef, base_id: str, extra: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    h.update(f"base={base_id}\n".encode())
    for k, v in sorted(image.build_args.items()):
        h.update(f"arg {k}={v}\n".encode())
    for path in _context_files(image.directory):
        h.update(f"file {path.relative_to(image.directory)}\n".encode())
        h.update(path.read_bytes())
    for name, data in sorted(extra.items()):
        h.update(f"host {name}\n".encode())
        h.update(data)
    return h.hexdigest()


def base_layer(*, prefer_registry: bool | None = None, log: bool = True) -> str:
    """``FROM`` for images without a WWS parent: a registry image when reachable, else debootstrap."""
    use_registry = registry.reachable() if prefer_registry is None else prefer_registry
    if use_registry:
        return registry.REGISTRY_BASE
    return rootfs.ensure_rootfs(log=log)


def build(image: ImageDef, *, quiet: bool = False, force: bool = False, base_ref: str | None = None) -> Built:
    """Build ``image`` (and its WWS parents) unless its content-hash tag exists.

    ``force`` rebuilds this image (not its parents) without Podman's layer cache, which is
    how a rebuild picks up newer Debian packages for unchanged inputs.
    """
    started = time.monotonic()
    if image.base is not None:
        parent = build(DEFINITIONS[image.base], quiet=quiet)
        base = parent.hash_ref  # exactly the parent that was hashed, whatever its alias says
    else:
        base = base_ref or base_layer(log=not quiet)
    if not podman_cli.image_exists(base):
        podman_cli.run("pull", base, capture=quiet)
    extra = {"host-ca.crt": hostfiles.ca_bundle(), "debian.sources": hostfiles.debian_sources().encode()}
    digest = inputs_hash(image, podman_cli.image_id(base), extra)
    hash_ref = f"{image.repo}:h-{digest[:12]}"
    with locking.exclusive(image.name):  # one build per image name at a time; re-check inside
        if podman_cli.image_exists(hash_ref) and not force:
            podman_cli.tag(hash_ref, image.ref)
            if not quiet:
                print(f"[images] {image.ref} is up to date ({hash_ref})", flush=True)
            return Built(
                ref=image.ref, hash_ref=hash_ref, inputs=digest, cached=True, seconds=time.monotonic() - started
            )
        if not quiet:
            print(f"[images] building {image.ref} from {base}", flush=True)
        _build(image, base, hash_ref, digest, extra, quiet=quiet, no_cache=force)
        podman_cli.tag(hash_ref, image.ref)
    seconds = time.monotonic() - started
    if not quiet:
        print(f"[images] built {image.ref} ({hash_ref}) in {seconds:.1f}s", flush=True)
    return Built(ref=image.ref, hash_ref=hash_ref, inputs=digest, cached=False, seconds=seconds)


def _build(
    image: ImageDef, base: str, hash_ref: str, digest: str, extra: dict[str, bytes], *, quiet: bool, no_cache: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix=f"wws-build-{image.name}-") as tmp:
        ctx = Path(tmp)
        for path in _context_files(image.directory):
            dest = ctx / path.relative_to(image.directory)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        for name, data in extra.items():
            (ctx / name).write_bytes(data)
        podman_cli.build(
            ctx,
            hash_ref,
            build_args={"BASE": base, **image.build_args},
            labels={INPUTS_LABEL: digest},
            quiet=quiet,
            no_cache=no_cache,
        )
