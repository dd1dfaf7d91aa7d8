"""Workspace image definitions (``images/<name>/Containerfile``) and their builder."""

__version__ = "0.1.0"
