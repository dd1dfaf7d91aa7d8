"""Dev images: the IDE image plus the toolchains of a language set, one image per set."""

from __future__ import annotations

from collections.abc import Iterable

from wws_images import builder
from wws_images.builder import Built, ImageDef
from wws_images.languages import normalize, packages_for, tag_for


def definition(languages: Iterable[str]) -> ImageDef:
    """The dev image for ``languages``; its ``ref`` equals ``image_for_languages(languages)``."""
    chosen = normalize(languages)
    return ImageDef(
        name="dev",
        alias=tag_for(chosen),
        directory=builder.IMAGES_DIR / "dev",
        base="ide",
        build_args={"LANGUAGES": " ".join(chosen), "PACKAGES": " ".join(packages_for(chosen))},
    )


def ensure_dev_image(languages: Iterable[str], *, quiet: bool = True, force: bool = False) -> Built:
    """Build base, IDE and this dev image as needed (each cached by content hash)."""
    return builder.build(definition(languages), quiet=quiet, force=force)
