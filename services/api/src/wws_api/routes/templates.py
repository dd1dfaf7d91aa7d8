"""``/api/v1/templates``: versioned workspace recipes (every change is an event)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody

from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.schemas import TemplateBody, TemplateList, TemplateVersionView, TemplateView
from wws_api.templates import TemplateService

IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)]


class TemplateController(Controller):
    path = "/api/v1/templates"
    tags = ["templates"]

    @post("/", status_code=201, summary="Create a template (version 1)", opt=policy("template.write", "org"))
    async def create(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TemplateBody],
        templates: NamedDependency[TemplateService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TemplateView]:
        view = await templates.create(request.user, data, idempotency_key)
        return Response(view, status_code=201, headers={"Location": f"/api/v1/templates/{view.id}"})

    @get("/", summary="List templates", opt=policy("template.read", "org"))
    async def list_templates(
        self, request: Request[Principal, Any, Any], templates: NamedDependency[TemplateService]
    ) -> TemplateList:
        return await templates.list_all(request.user)

    @get(
        "/{ident:str}", summary="Get a template by id or name (its current version)", opt=policy("template.read", "org")
    )
    async def get_template(
        self, request: Request[Principal, Any, Any], templates: NamedDependency[TemplateService], ident: FromPath[str]
    ) -> TemplateView:
        return templates.view(await templates.resolve(request.user, ident))

    @get("/{ident:str}/versions", summary="Every version of a template", opt=policy("template.read", "org"))
    async def versions(
        self, request: Request[Principal, Any, Any], templates: NamedDependency[TemplateService], ident: FromPath[str]
    ) -> list[TemplateVersionView]:
        return await templates.versions(request.user, ident)

    @patch(
        "/{ident:str}",
        summary="Change a template (a new version; workspaces move on rebuild)",
        opt=policy("template.write", "org"),
    )
    async def update(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TemplateBody],
        templates: NamedDependency[TemplateService],
        ident: FromPath[str],
        idempotency_key: IdempotencyKey = None,
    ) -> TemplateView:
        return await templates.update(request.user, ident, data, idempotency_key)

    @delete(
        "/{ident:str}",
        status_code=204,
        summary="Delete a template (its workspaces keep their spec)",
        opt=policy("template.write", "org"),
    )
    async def delete_template(
        self,
        request: Request[Principal, Any, Any],
        templates: NamedDependency[TemplateService],
        ident: FromPath[str],
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        await templates.delete(request.user, ident, idempotency_key)
