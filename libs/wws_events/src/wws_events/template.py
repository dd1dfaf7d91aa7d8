"""Templates: named, versioned recipes for workspaces. Every change is an event; a
workspace records the template version it was built from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, assert_never

import msgspec

from wws_events._base import CommandData, EventData
from wws_events.errors import DomainError, InvalidTransition
from wws_events.workspace import Network, Resources


class TemplateSpec(msgspec.Struct, frozen=True, kw_only=True):
    description: str = ""
    image: str | None = None
    """An explicit image; when None the image is built from ``languages``."""
    languages: list[str] = []
    ide: bool = True
    resources: Resources = Resources(cpu=2.0, memory_mb=4096, disk_gb=20)
    bootstrap: str | None = None
    idle_timeout_s: int | None = None
    env: dict[str, str] = {}
    ports: list[int] = []
    network: Network = "egress"


class TemplateCreated(EventData, frozen=True, kw_only=True, tag="template.created"):
    STREAM_TYPE: ClassVar[str] = "template"
    template_id: uuid.UUID
    name: str
    version: int
    spec: TemplateSpec


class TemplateUpdated(EventData, frozen=True, kw_only=True, tag="template.updated"):
    STREAM_TYPE: ClassVar[str] = "template"
    template_id: uuid.UUID
    version: int
    spec: TemplateSpec


class TemplateDeleted(EventData, frozen=True, kw_only=True, tag="template.deleted"):
    STREAM_TYPE: ClassVar[str] = "template"
    template_id: uuid.UUID


TemplateEvent = TemplateCreated | TemplateUpdated | TemplateDeleted


class CreateTemplate(CommandData, frozen=True, kw_only=True, tag="template.create"):
    template_id: uuid.UUID
    name: str
    spec: TemplateSpec


class UpdateTemplate(CommandData, frozen=True, kw_only=True, tag="template.update"):
    spec: TemplateSpec


class DeleteTemplate(CommandData, frozen=True, kw_only=True, tag="template.delete"):
    pass


TemplateCommand = CreateTemplate | UpdateTemplate | DeleteTemplate


class TemplateState(msgspec.Struct, frozen=True, kw_only=True):
    template_id: uuid.UUID
    org_id: str
    name: str
    version: int
    """The template's own version (1, 2, ...), not the stream version."""
    spec: TemplateSpec
    deleted: bool = False
    stream_version: int
    created_at: datetime
    updated_at: datetime


class TemplateNotFound(DomainError):
    code = "template_not_found"

    def __init__(self, ident: str) -> None:
        self.ident = ident
        super().__init__(f"template {ident} does not exist")


def template_stream(template_id: uuid.UUID) -> str:
    return f"template-{template_id}"


def decide_template(state: TemplateState | None, command: TemplateCommand) -> list[TemplateEvent]:
    match command:
        case CreateTemplate():
            if state is not None:
                raise InvalidTransition("create", "existing", "the template exists")
            return [TemplateCreated(template_id=command.template_id, name=command.name, version=1, spec=command.spec)]
        case UpdateTemplate():
            if state is None or state.deleted:
                raise TemplateNotFound(str(state.template_id) if state else "?")
            if command.spec == state.spec:
                return []
            return [TemplateUpdated(template_id=state.template_id, version=state.version + 1, spec=command.spec)]
        case DeleteTemplate():
            if state is None or state.deleted:
                raise TemplateNotFound(str(state.template_id) if state else "?")
            return [TemplateDeleted(template_id=state.template_id)]
        case _:
            assert_never(command)


def evolve_template(
    state: TemplateState | None, event: TemplateEvent, *, org_id: str, stream_version: int, at: datetime
) -> TemplateState | None:
    match event:
        case TemplateCreated():
            return TemplateState(
                template_id=event.template_id,
                org_id=org_id,
                name=event.name,
                version=event.version,
                spec=event.spec,
                stream_version=stream_version,
                created_at=at,
                updated_at=at,
            )
        case TemplateUpdated():
            if state is None:
                return None
            return msgspec.structs.replace(
                state, version=event.version, spec=event.spec, stream_version=stream_version, updated_at=at
            )
        case TemplateDeleted():
            if state is None:
                return None
            return msgspec.structs.replace(state, deleted=True, stream_version=stream_version, updated_at=at)
        case _:
            assert_never(event)
