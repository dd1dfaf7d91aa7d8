"""API errors (mapped to RFC 9457 problems in ``problems.py``; nothing here knows HTTP).

* ApiError
  + BadRequestField        a field is syntactically fine but not acceptable (422)
  + UnknownTemplate        template name not known (422)
  + UnknownHost            host id was never registered (422)
  + IdempotencyMismatch    Idempotency-Key reused with a different request (422)
  + NotFound               unknown or invisible resource (404)
  + Conflict               invalid transition, carrying the current workspace (409)
  + OperationFailed        a waited-for operation ended in ``failed`` (502)
  + LoginFailed            an OAuth/OIDC answer could not be used (400)
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Base of the API's own errors."""


class BadRequestField(ApiError):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class UnknownTemplate(BadRequestField):
    def __init__(self, name: str) -> None:
        super().__init__("template", f"unknown template {name!r}")


class UnknownHost(BadRequestField):
    def __init__(self, host_id: str) -> None:
        super().__init__("host", f"no host {host_id!r} has ever registered")


class IdempotencyMismatch(ApiError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")


class NotFound(ApiError):
    def __init__(self, kind: str, ident: str) -> None:
        self.kind, self.ident = kind, ident
        super().__init__(f"{kind} {ident} not found")


class OperationFailed(ApiError):
    def __init__(self, message: str, workspace: dict[str, Any]) -> None:
        self.workspace = workspace
        super().__init__(message)


class Conflict(ApiError):
    """An invalid transition, with the workspace as it is now."""

    def __init__(self, message: str, workspace: dict[str, Any]) -> None:
        self.workspace = workspace
        super().__init__(message)


class LoginFailed(ApiError):
    """State, code or ID token did not check out; the message says which, never a secret."""
