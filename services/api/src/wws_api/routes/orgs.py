"""``/api/v1/orgs``: organizations, members and roles, teams, invitations, quotas, usage;
``/api/v1/invitations``: answering one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from wws_api.access import policy
from wws_api.auth import Principal
from wws_api.identity import Identity
from wws_api.orgs import OrgService
from wws_api.schemas_identity import (
    InvitationCreate,
    InvitationView,
    LimitsBody,
    MemberView,
    OrgCreate,
    OrgUsage,
    OrgView,
    QuotasView,
    RoleChange,
    TeamCreate,
    TeamView,
)


async def _org(identity: Identity, ident: str) -> str:
    """The guard resolved it already; this cannot miss."""
    org_id = await identity.resolve_org(identity.pool, ident)
    assert org_id is not None
    return org_id


class OrgController(Controller):
    path = "/api/v1/orgs"
    tags = ["organizations"]

    @post("/", summary="Create an organization (you become its owner)", opt=policy("org.create", "instance"))
    async def create(
        self, request: Request[Principal, Any, Any], data: JSONBody[OrgCreate], orgs: NamedDependency[OrgService]
    ) -> OrgView:
        return await orgs.create(request.user, data.name, data.display_name)

    @get("/", summary="My organizations", opt=policy("self.read", "self"))
    async def mine(self, request: Request[Principal, Any, Any], orgs: NamedDependency[OrgService]) -> list[OrgView]:
        return await orgs.mine(request.user)

    @get("/{org:str}", summary="One organization", opt=policy("org.read", "org"))
    async def get_org(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
    ) -> OrgView:
        return await orgs.get(request.user, await _org(identity, org))

    # ------------------------------------------------------------------ members

    @get("/{org:str}/members", summary="Members and their roles", opt=policy("org.read", "org"))
    async def members(
        self, orgs: NamedDependency[OrgService], identity: NamedDependency[Identity], org: FromPath[str]
    ) -> list[MemberView]:
        return await orgs.members(await _org(identity, org))

    @patch(
        "/{org:str}/members/{user_id:str}",
        summary="Change a member's role",
        opt=policy("org.members.manage", "org"),
        status_code=204,
    )
    async def change_role(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[RoleChange],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        user_id: FromPath[str],
    ) -> None:
        await orgs.change_role(request.user, await _org(identity, org), user_id, data.role)

    @delete("/{org:str}/members/{user_id:str}", summary="Remove a member", opt=policy("org.members.manage", "org"))
    async def remove(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        user_id: FromPath[str],
    ) -> None:
        await orgs.remove(request.user, await _org(identity, org), user_id)

    # ------------------------------------------------------------------ teams

    @get("/{org:str}/teams", summary="Teams and their members", opt=policy("org.read", "org"))
    async def teams(
        self, orgs: NamedDependency[OrgService], identity: NamedDependency[Identity], org: FromPath[str]
    ) -> list[TeamView]:
        return await orgs.teams(await _org(identity, org))

    @post(
        "/{org:str}/teams",
        summary="Create a team (idp_group: synced from OIDC groups)",
        opt=policy("org.teams.manage", "org"),
    )
    async def create_team(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TeamCreate],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
    ) -> TeamView:
        return await orgs.create_team(request.user, await _org(identity, org), data.name, data.idp_group)

    @delete("/{org:str}/teams/{team:str}", summary="Delete a team", opt=policy("org.teams.manage", "org"))
    async def delete_team(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        team: FromPath[str],
    ) -> None:
        await orgs.delete_team(request.user, await _org(identity, org), team)

    @put(
        "/{org:str}/teams/{team:str}/members/{user_id:str}",
        summary="Add a member to a team",
        opt=policy("org.teams.manage", "org"),
        status_code=204,
    )
    async def add_team_member(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        team: FromPath[str],
        user_id: FromPath[str],
    ) -> None:
        await orgs.team_member(request.user, await _org(identity, org), team, user_id, add=True)

    @delete(
        "/{org:str}/teams/{team:str}/members/{user_id:str}",
        summary="Remove a member from a team",
        opt=policy("org.teams.manage", "org"),
    )
    async def remove_team_member(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        team: FromPath[str],
        user_id: FromPath[str],
    ) -> None:
        await orgs.team_member(request.user, await _org(identity, org), team, user_id, add=False)

    # ------------------------------------------------------------------ invitations

    @get("/{org:str}/invitations", summary="Invitations of the organization", opt=policy("org.members.manage", "org"))
    async def invitations(
        self, orgs: NamedDependency[OrgService], identity: NamedDependency[Identity], org: FromPath[str]
    ) -> list[InvitationView]:
        return await orgs.invitations(await _org(identity, org))

    @post(
        "/{org:str}/invitations",
        summary="Invite by email or GitHub login (expires)",
        opt=policy("org.members.manage", "org"),
    )
    async def invite(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[InvitationCreate],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
    ) -> InvitationView:
        return await orgs.invite(request.user, await _org(identity, org), data)

    @delete(
        "/{org:str}/invitations/{invitation_id:str}",
        summary="Revoke a pending invitation",
        opt=policy("org.members.manage", "org"),
    )
    async def revoke(
        self,
        request: Request[Principal, Any, Any],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        invitation_id: FromPath[str],
    ) -> None:
        await orgs.revoke_invitation(request.user, await _org(identity, org), invitation_id)

    # ------------------------------------------------------------------ quotas and usage

    @get("/{org:str}/quotas", summary="Limits of the organization and its members", opt=policy("org.usage.read", "org"))
    async def quotas(
        self, orgs: NamedDependency[OrgService], identity: NamedDependency[Identity], org: FromPath[str]
    ) -> QuotasView:
        return await orgs.quotas(await _org(identity, org))

    @put(
        "/{org:str}/quotas/org",
        summary="Set the organization's limits",
        opt=policy("org.quota.manage", "org"),
        status_code=204,
    )
    async def set_org_quota(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[LimitsBody],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
    ) -> None:
        await orgs.set_quota(request.user, await _org(identity, org), "org", None, data)

    @put(
        "/{org:str}/quotas/default-user",
        summary="Set every member's default limits",
        opt=policy("org.quota.manage", "org"),
        status_code=204,
    )
    async def set_default_quota(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[LimitsBody],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
    ) -> None:
        await orgs.set_quota(request.user, await _org(identity, org), "default_user", None, data)

    @put(
        "/{org:str}/quotas/users/{user_id:str}",
        summary="Set one member's limits",
        opt=policy("org.quota.manage", "org"),
        status_code=204,
    )
    async def set_user_quota(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[LimitsBody],
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        user_id: FromPath[str],
    ) -> None:
        await orgs.set_quota(request.user, await _org(identity, org), "user", user_id, data)

    @get(
        "/{org:str}/usage",
        summary="What the organization and each member use, and workspace-/CPU-hours since ?since (default: this month)",
        opt=policy("org.usage.read", "org"),
    )
    async def usage(
        self,
        orgs: NamedDependency[OrgService],
        identity: NamedDependency[Identity],
        org: FromPath[str],
        since: FromQuery[datetime | None] = None,
    ) -> OrgUsage:
        return await orgs.usage(await _org(identity, org), since)


class InvitationController(Controller):
    path = "/api/v1/invitations"
    tags = ["organizations"]

    @post(
        "/{invitation_id:str}/accept",
        summary="Accept an invitation addressed to me",
        opt=policy("invitation.respond", "instance"),
        status_code=204,
    )
    async def accept(
        self, request: Request[Principal, Any, Any], orgs: NamedDependency[OrgService], invitation_id: FromPath[str]
    ) -> None:
        await orgs.answer(request.user, invitation_id, accept=True)

    @post(
        "/{invitation_id:str}/decline",
        summary="Decline an invitation addressed to me",
        opt=policy("invitation.respond", "instance"),
        status_code=204,
    )
    async def decline(
        self, request: Request[Principal, Any, Any], orgs: NamedDependency[OrgService], invitation_id: FromPath[str]
    ) -> None:
        await orgs.answer(request.user, invitation_id, accept=False)
