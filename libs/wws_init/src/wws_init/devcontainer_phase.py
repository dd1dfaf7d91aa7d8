"""The devcontainer step of init: find and read the repository's devcontainer.json and
tell the host what it means for this container.

* ``needs_image``: on a new container whose image is not the devcontainer's (image or
  Dockerfile): the init stops here and the host builds/pulls that image and recreates the
  container (same home); the next init run finds ``applied``.
* ``applied``: the container runs what the file asks; its lifecycle commands follow.
* ``changed``: the file changed since the image was made; it applies on the next rebuild.
* ``invalid``: the file could not be read; the workspace continues on its template.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from wws_init import devcontainer
from wws_init.config import InitConfig
from wws_init.report import Reporter


def image_key(config: devcontainer.DevcontainerConfig, tree: Path) -> str | None:
    """What determines the container image: the image name, or the build spec and the
    Dockerfile's bytes. None when the file names no image (the template's stays)."""
    if config.image is None and config.build is None:
        return None
    h = hashlib.sha256()
    h.update(json.dumps({"image": config.image}).encode())
    if config.build is not None:
        b = config.build
        h.update(
            json.dumps(
                {"dockerfile": b.dockerfile, "context": b.context, "args": b.args, "target": b.target}, sort_keys=True
            ).encode()
        )
        try:
            h.update((tree / b.dockerfile).read_bytes())
        except OSError:
            h.update(b"<missing dockerfile>")
    return h.hexdigest()[:32]


def resolve(cfg: InitConfig, tree: Path, reporter: Reporter) -> tuple[str, devcontainer.DevcontainerConfig | None]:
    """Returns (status, config)."""
    path = devcontainer.find(tree)
    if path is None:
        reporter.emit("devcontainer", status="none")
        return "none", None
    source = path.relative_to(tree).as_posix()
    try:
        config = devcontainer.load(path, repo_dir=tree)
    except devcontainer.DevcontainerError as exc:
        reporter.emit(
            "devcontainer", status="invalid", source=source, message=str(exc), line=exc.line, column=exc.column
        )
        return "invalid", None
    except OSError as exc:
        reporter.emit("devcontainer", status="invalid", source=source, message=f"cannot read it: {exc.strerror}")
        return "invalid", None
    key = image_key(config, tree)
    common = {
        "source": source,
        "tree": str(tree),
        "key": key,
        "config": devcontainer.to_json(config),
        "unsupported": config.unsupported,
    }
    if cfg.mode == "create" and key is not None and key != cfg.devcontainer_key:
        reporter.emit("devcontainer", status="needs_image", **common)
        return "needs_image", config
    if key is not None and key != cfg.devcontainer_key:
        reporter.emit(
            "devcontainer",
            status="changed",
            warnings=["devcontainer.json changed since this container was made; rebuild the workspace to apply it"],
            **common,
        )
        return "changed", config
    reporter.emit("devcontainer", status="applied", **common)
    return "applied", config
