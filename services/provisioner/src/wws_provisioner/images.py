"""WWS's own images (``localhost/wws-base``, ``-ide``, ``-dev:<languages>``) are built on
the host the first time a workspace needs one: a template names languages, not a registry
image, and no registry is needed. Builds are cached by content hash (a no-op when the
inputs are unchanged) and serialised per image by the builder's file lock."""

from __future__ import annotations

import asyncio

import structlog

from wws_images import builder
from wws_images.builder import ImageDef
from wws_images.dev import definition
from wws_images.languages import DEV_REPO, NO_LANGUAGES_TAG

log = structlog.get_logger("wws.agent.images")


def wws_definition(image: str) -> ImageDef | None:
    """The definition that builds ``image`` when it is one of WWS's own; else None."""
    for known in builder.DEFINITIONS.values():
        if image == known.ref:
            return known
    repo, sep, tag = image.rpartition(":")
    if not sep or repo != DEV_REPO:
        return None
    languages = () if tag == NO_LANGUAGES_TAG else tuple(tag.split("-"))
    try:
        chosen = definition(languages)
    except ValueError:
        return None
    return chosen if chosen.ref == image else None  # only canonical tags (sorted, known)


def buildable_here() -> bool:
    """The image definitions ship with the source tree, not with every install of the agent."""
    return (builder.IMAGES_DIR / "base" / "Containerfile").is_file()


async def build(image: ImageDef) -> float:
    """Build ``image`` (and what it stands on); returns the seconds it took."""
    log.info("images.build_started", image=image.ref)
    built = await asyncio.to_thread(builder.build, image, quiet=True)
    log.info("images.build_finished", image=built.ref, cached=built.cached, seconds=round(built.seconds, 1))
    return built.seconds
