"""The union of every event payload and the typed envelope around it."""

from __future__ import annotations

from wws_events._base import EnvelopeHead
from wws_events.host import HostEvent
from wws_events.identity import AccessDenied, UserEvent
from wws_events.org import OrgEvent
from wws_events.template import TemplateEvent
from wws_events.workspace import WorkspaceActivityRecorded, WorkspaceEvent

AnyEvent = WorkspaceEvent | HostEvent | WorkspaceActivityRecorded | TemplateEvent | UserEvent | OrgEvent | AccessDenied


class Envelope(EnvelopeHead, frozen=True, kw_only=True):
    """A decoded event of a type this build knows."""

    data: AnyEvent
