"""Runtime plumbing shared by WWS services (never imported by ``wws_events``)."""

__version__ = "0.1.0"
