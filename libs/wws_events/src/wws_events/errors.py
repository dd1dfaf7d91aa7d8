"""Domain errors raised by the pure ``decide`` functions.

* DomainError
  + WorkspaceNotFound      the stream does not exist
  + WorkspaceExists        create on an existing stream
  + InvalidTransition      the command is not allowed in the current status (HTTP 409)
"""

from __future__ import annotations

import uuid


class DomainError(Exception):
    """Base of every error ``decide`` raises; it never has side effects to undo."""

    code = "domain_error"


class WorkspaceNotFound(DomainError):
    code = "workspace_not_found"

    def __init__(self, workspace_id: uuid.UUID | str) -> None:
        self.workspace_id = str(workspace_id)
        super().__init__(f"workspace {self.workspace_id} does not exist")


class WorkspaceExists(DomainError):
    code = "workspace_exists"

    def __init__(self, workspace_id: uuid.UUID | str) -> None:
        self.workspace_id = str(workspace_id)
        super().__init__(f"workspace {self.workspace_id} already exists")


class InvalidTransition(DomainError):
    code = "invalid_transition"

    def __init__(self, command: str, status: str, detail: str = "") -> None:
        self.command = command
        self.status = status
        msg = f"cannot {command} a workspace that is {status}"
        super().__init__(f"{msg}: {detail}" if detail else msg)
