"""Template use cases: create, read, update (a new version), delete. Synchronous: no host
is involved, so writes answer 201/200 with the result."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from wws_api import errors
from wws_api.auth import Principal
from wws_api.readmodel import READ_MODEL
from wws_api.schemas import TemplateBody, TemplateList, TemplateVersionView, TemplateView
from wws_api.settings import ApiSettings
from wws_api.specs import template_image, template_spec
from wws_api.views import template_spec_view, template_view
from wws_events.ids import command_id as derive_command_id
from wws_events.template import (
    CreateTemplate,
    DeleteTemplate,
    TemplateCommand,
    TemplateSpec,
    TemplateState,
    UpdateTemplate,
)
from wws_service.clock import Clock
from wws_service.tracing import current_traceparent
from wws_store import projection
from wws_store import templates as store
from wws_store.errors import ConcurrencyError

MAX_ATTEMPTS = 5


class TemplateService:
    def __init__(self, pool: asyncpg.Pool, settings: ApiSettings, clock: Clock) -> None:
        self.pool = pool
        self.settings = settings
        self.clock = clock

    async def resolve(self, principal: Principal, ident: str, *, org_id: str | None = None) -> TemplateState:
        """A live template of the caller's organization (or ``org_id``) by id or name."""
        org = org_id or principal.org_id
        template_id: uuid.UUID | None
        try:
            template_id = uuid.UUID(ident)
        except ValueError:
            template_id = await self.pool.fetchval(
                "SELECT template_id FROM wws_template_names WHERE org_id = $1 AND name = $2", org, ident
            )
        state = await store.load(self.pool, template_id) if template_id else None
        if state is None or state.deleted or state.org_id != org:
            raise errors.NotFound("template", ident)
        return state

    async def by_name(self, principal: Principal, name: str) -> TemplateState | None:
        try:
            return await self.resolve(principal, name)
        except errors.NotFound:
            return None

    def view(self, state: TemplateState) -> TemplateView:
        return template_spec_view(
            state.template_id,
            state.name,
            state.version,
            state.spec,
            template_image(state.spec),
            state.created_at,
            state.updated_at,
        )

    async def _run(
        self, principal: Principal, template_id: uuid.UUID, command: TemplateCommand, key: str | None
    ) -> TemplateState | None:
        cmd_id = derive_command_id("idempotency-template", principal.actor.id, key) if key else uuid.uuid4()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await store.execute_in(
                        conn,
                        template_id,
                        command,
                        command_id=cmd_id,
                        actor=principal.actor,
                        org_id=principal.org_id,
                        now=self.clock.now(),
                        traceparent=current_traceparent(),
                    )
                    await projection.apply_inline(conn, READ_MODEL, result.stored)
                    return result.state
            except ConcurrencyError:
                if attempt == MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def create(self, principal: Principal, body: TemplateBody, key: str | None) -> TemplateView:
        if body.name is None:
            raise errors.BadRequestField("name", "a template needs a name")
        spec = template_spec(body, None, self.settings)
        template_id = uuid.uuid5(derive_command_id("template", principal.actor.id, key), "t") if key else uuid.uuid4()
        state = await self._run(
            principal, template_id, CreateTemplate(template_id=template_id, name=body.name, spec=spec), key
        )
        assert state is not None
        return self.view(state)

    async def update(self, principal: Principal, ident: str, body: TemplateBody, key: str | None) -> TemplateView:
        current = await self.resolve(principal, ident)
        if body.name is not None and body.name != current.name:
            raise errors.BadRequestField("name", "a template cannot be renamed; create a new one")
        spec = template_spec(body, current.spec, self.settings)
        state = await self._run(principal, current.template_id, UpdateTemplate(spec=spec), key)
        assert state is not None
        return self.view(state)

    async def delete(self, principal: Principal, ident: str, key: str | None) -> None:
        current = await self.resolve(principal, ident)
        await self._run(principal, current.template_id, DeleteTemplate(), key)

    async def list_all(self, principal: Principal) -> TemplateList:
        rows = await self.pool.fetch(
            "SELECT * FROM api_templates WHERE org_id = $1 AND NOT deleted ORDER BY name", principal.org_id
        )
        return TemplateList(items=[template_view(r, _image_of(r["spec"])) for r in rows])

    async def versions(self, principal: Principal, ident: str) -> list[TemplateVersionView]:
        current = await self.resolve(principal, ident)
        rows = await self.pool.fetch(
            "SELECT version, spec, created_at FROM api_template_versions WHERE template_id = $1 ORDER BY version",
            current.template_id,
        )
        return [
            TemplateVersionView(version=r["version"], created_at=r["created_at"], spec=msgspec.json.decode(r["spec"]))
            for r in rows
        ]

    async def version_spec(self, template_id: uuid.UUID, version: int) -> TemplateState | None:
        """A template as it was at ``version`` (for rebuilding onto an older version)."""
        state = await store.load(self.pool, template_id)
        row = await self.pool.fetchrow(
            "SELECT spec FROM api_template_versions WHERE template_id = $1 AND version = $2", template_id, version
        )
        if state is None or row is None:
            return None
        return msgspec.structs.replace(state, version=version, spec=msgspec.json.decode(row["spec"], type=TemplateSpec))


def _image_of(spec_json: str) -> str:
    return template_image(msgspec.json.decode(spec_json, type=TemplateSpec))
