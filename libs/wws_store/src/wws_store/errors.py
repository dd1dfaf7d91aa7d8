"""Store errors.

* StoreError
  + ConcurrencyError   the stream moved on since it was read (optimistic concurrency)
  + MigrationError     a migration failed or an applied one was edited
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
    def __init__(self, org_id: str, name: str) -> None:
        self.org_id, self.name = org_id, name
        super().__init__(f"a workspace named {name!r} already exists")
