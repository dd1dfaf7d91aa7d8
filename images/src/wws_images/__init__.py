"""Workspace image definitions (``images/<name>/Containerfile``) and their builder.

``image_for_languages`` and ``LANGUAGES`` are pure (no Podman); ``ensure_dev_image`` builds.
"""

from wws_images.builder import Built
from wws_images.dev import ensure_dev_image
from wws_images.languages import LANGUAGES, image_for_languages

__all__ = ["LANGUAGES", "Built", "ensure_dev_image", "image_for_languages"]
__version__ = "0.1.0"
