"""WWS audit: the audit-log projection, signed chain checkpoints, verification and replay."""

__version__ = "0.1.0"
