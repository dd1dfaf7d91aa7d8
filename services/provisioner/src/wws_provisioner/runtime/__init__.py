"""Workspace runtimes: the narrow seam between the agent and Podman (or a fake)."""
