"""Store errors.

* StoreError
  + ConcurrencyError   the stream moved on since it was read (optimistic concurrency)
  + MigrationError     a migration failed or an applied one was edited
  + NameTaken          a live workspace or template of the organization has the name
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the Postgres-side errors."""


class ConcurrencyError(StoreError):
    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id, self.expected, self.actual = stream_id, expected, actual
        super().__init__(f"stream {stream_id} is at version {actual}, expected {expected}")


class MigrationError(StoreError):
    pass


class NameTaken(StoreError):
    def __init__(self, org_id: str, name: str, kind: str = "workspace") -> None:
        self.org_id, self.name, self.kind = org_id, name, kind
        super().__init__(f"a {kind} named {name!r} already exists")
