"""Organization use cases: create, members and roles, teams, invitations, quotas and usage.
The access guard has already decided that the caller may do this; the Organization
aggregate keeps its own rules (an owner always remains, only owners touch owners)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wws_api import errors, quota
from wws_api.auth import Principal
from wws_api.identity import Identity
from wws_api.schemas_identity import (
    Budget,
    InvitationCreate,
    InvitationView,
    LimitsBody,
    MemberView,
    OrgUsage,
    OrgView,
    QuotasView,
    TeamView,
    UsageTotals,
    UsageView,
)
from wws_api.settings import ApiSettings
from wws_events import identity as i
from wws_events import org as o
from wws_events.quota import Limits, Usage


def _usage(u: Usage) -> UsageView:
    return UsageView(workspaces=u.workspaces, running=u.running, cpu=u.cpu, memory_mb=u.memory_mb, disk_gb=u.disk_gb)


def _limits(lim: Limits) -> dict[str, Any]:
    return {k: v for k, v in msgspec.to_builtins(lim).items() if v is not None}


class OrgService:
    def __init__(self, identity: Identity, settings: ApiSettings) -> None:
        self.identity = identity
        self.pool = identity.pool
        self.clock = identity.clock
        self.settings = settings

    def _by_owner(self, principal: Principal, org_id: str) -> bool:
        return principal.subject.roles.get(org_id) == "owner"

    # ------------------------------------------------------------------ organizations

    async def create(self, principal: Principal, name: str, display_name: str) -> OrgView:
        if await self.pool.fetchval("SELECT 1 FROM id_orgs WHERE name = $1 OR org_id = $1", name):
            raise o.OrgConflict(f"an organization named {name!r} exists")
        org_id = name  # readable ids; names are unique and never change
        await self.identity.run_org(
            org_id,
            o.CreateOrg(org_id=org_id, name=name, display_name=display_name, owner_id=principal.user_id),
            principal.actor,
        )
        return await self.get(principal, org_id)

    async def mine(self, principal: Principal) -> list[OrgView]:
        rows = await self.pool.fetch(
            """SELECT o.*, m.role, (SELECT count(*) FROM id_members x WHERE x.org_id = o.org_id) AS members
               FROM id_orgs o JOIN id_members m ON m.org_id = o.org_id AND m.user_id = $1 ORDER BY o.name""",
            principal.user_id,
        )
        return [self._view(r) for r in rows]

    async def get(self, principal: Principal, org_id: str) -> OrgView:
        row = await self.pool.fetchrow(
            """SELECT o.*, m.role, (SELECT count(*) FROM id_members x WHERE x.org_id = o.org_id) AS members
               FROM id_orgs o LEFT JOIN id_members m ON m.org_id = o.org_id AND m.user_id = $2 WHERE o.org_id = $1""",
            org_id,
            principal.user_id,
        )
        if row is None:
            raise errors.NotFound("organization", org_id)
        return self._view(row)

    @staticmethod
    def _view(r: Any) -> OrgView:
        return OrgView(
            id=r["org_id"],
            name=r["name"],
            display_name=r["display_name"],
            created_at=r["created_at"],
            role=r["role"],
            members=r["members"],
        )

    # ------------------------------------------------------------------ members

    async def members(self, org_id: str) -> list[MemberView]:
        rows = await self.pool.fetch(
            """SELECT m.user_id, u.login, u.name, m.role, m.joined_at,
                      coalesce(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}') AS teams
               FROM id_members m JOIN id_users u USING (user_id)
               LEFT JOIN id_team_members tm ON tm.user_id = m.user_id
               LEFT JOIN id_teams t ON t.team_id = tm.team_id AND t.org_id = m.org_id
               WHERE m.org_id = $1 GROUP BY m.user_id, u.login, u.name, m.role, m.joined_at ORDER BY u.login""",
            org_id,
        )
        return [
            MemberView(
                user_id=r["user_id"],
                login=r["login"],
                name=r["name"],
                role=r["role"],
                teams=list(r["teams"]),
                joined_at=r["joined_at"],
            )
            for r in rows
        ]

    async def change_role(self, principal: Principal, org_id: str, user_id: str, role: o.Role) -> None:
        by_owner = self._by_owner(principal, org_id)
        await self.identity.run_org(
            org_id, o.ChangeRole(user_id=user_id, role=role, by_owner=by_owner), principal.actor
        )

    async def remove(self, principal: Principal, org_id: str, user_id: str) -> None:
        by_owner = self._by_owner(principal, org_id)
        await self.identity.run_org(org_id, o.RemoveMember(user_id=user_id, by_owner=by_owner), principal.actor)

    async def add(self, principal: Principal, org_id: str, user_id: str, role: o.Role) -> None:
        """Direct add (no invitation): used by OIDC auto-join and by instance admins."""
        await self.identity.run_org(
            org_id, o.AddMember(user_id=user_id, role=role, by_owner=self._by_owner(principal, org_id)), principal.actor
        )

    # ------------------------------------------------------------------ teams

    async def teams(self, org_id: str) -> list[TeamView]:
        rows = await self.pool.fetch(
            """SELECT t.team_id, t.name, t.idp_group,
                      coalesce(array_agg(tm.user_id ORDER BY tm.user_id) FILTER (WHERE tm.user_id IS NOT NULL), '{}') AS members
               FROM id_teams t LEFT JOIN id_team_members tm USING (team_id)
               WHERE t.org_id = $1 GROUP BY t.team_id, t.name, t.idp_group ORDER BY t.name""",
            org_id,
        )
        return [
            TeamView(id=r["team_id"], name=r["name"], idp_group=r["idp_group"], members=list(r["members"]))
            for r in rows
        ]

    async def team_id(self, org_id: str, ident: str) -> str:
        found: str | None = await self.pool.fetchval(
            "SELECT team_id FROM id_teams WHERE org_id = $1 AND (team_id = $2 OR name = $2)", org_id, ident
        )
        if found is None:
            raise errors.NotFound("team", ident)
        return found

    async def create_team(self, principal: Principal, org_id: str, name: str, idp_group: str | None) -> TeamView:
        team_id = f"t-{uuid.uuid4().hex[:12]}"
        await self.identity.run_org(
            org_id, o.CreateTeam(team_id=team_id, name=name, idp_group=idp_group), principal.actor
        )
        return TeamView(id=team_id, name=name, idp_group=idp_group, members=[])

    async def delete_team(self, principal: Principal, org_id: str, ident: str) -> None:
        team_id = await self.team_id(org_id, ident)
        await self.identity.run_org(org_id, o.DeleteTeam(team_id=team_id), principal.actor)

    async def team_member(self, principal: Principal, org_id: str, ident: str, user_id: str, *, add: bool) -> None:
        team_id = await self.team_id(org_id, ident)
        command: o.OrgCommand = (
            o.AddTeamMember(team_id=team_id, user_id=user_id)
            if add
            else o.RemoveTeamMember(team_id=team_id, user_id=user_id)
        )
        await self.identity.run_org(org_id, command, principal.actor)

    # ------------------------------------------------------------------ invitations

    async def invite(self, principal: Principal, org_id: str, body: InvitationCreate) -> InvitationView:
        if (body.email is None) == (body.github_login is None):
            raise errors.BadRequestField("email", "give an email address or a github_login (one of them)")
        teams = [await self.team_id(org_id, t) for t in body.teams]
        now = self.clock.now()
        ttl = body.expires_in_s or self.settings.invitation_ttl_s
        invitation_id = f"inv-{uuid.uuid4().hex}"
        await self.identity.run_org(
            org_id,
            o.Invite(
                invitation_id=invitation_id,
                email=body.email,
                github_login=body.github_login,
                role=body.role,
                teams=teams,
                expires_at=now + timedelta(seconds=ttl),
                now=now,
                by_owner=self._by_owner(principal, org_id),
            ),
            principal.actor,
        )
        return (await self._invitations("i.invitation_id = $1", invitation_id))[0]

    async def invitations(self, org_id: str) -> list[InvitationView]:
        return await self._invitations("i.org_id = $1", org_id)

    async def revoke_invitation(self, principal: Principal, org_id: str, invitation_id: str) -> None:
        await self.identity.run_org(org_id, o.RevokeInvitation(invitation_id=invitation_id), principal.actor)

    async def _addressed_to(self, user_id: str) -> tuple[list[str], list[str]]:
        """The user's verified email addresses and GitHub logins (what an invitation may name)."""
        rows = await self.pool.fetch(
            "SELECT provider, login, email, email_verified FROM id_identities WHERE user_id = $1", user_id
        )
        emails = [r["email"] for r in rows if r["email"] and r["email_verified"]]
        logins = [r["login"] for r in rows if r["provider"] == "github" and r["login"]]
        return emails, logins

    async def my_invitations(self, principal: Principal) -> list[InvitationView]:
        emails, logins = await self._addressed_to(principal.user_id)
        if not emails and not logins:
            return []
        return await self._invitations(
            """(lower(i.email) = ANY($1::text[]) OR lower(i.github_login) = ANY($2::text[]))
               AND i.status = 'pending' AND i.expires_at > $3""",
            [e.lower() for e in emails],
            [x.lower() for x in logins],
            self.clock.now(),
        )

    async def answer(self, principal: Principal, invitation_id: str, *, accept: bool) -> None:
        org_id: str | None = await self.pool.fetchval(
            "SELECT org_id FROM id_invitations WHERE invitation_id = $1", invitation_id
        )
        if org_id is None:
            raise errors.NotFound("invitation", invitation_id)
        emails, logins = await self._addressed_to(principal.user_id)
        command: o.OrgCommand = (
            o.AcceptInvitation(
                invitation_id=invitation_id,
                user_id=principal.user_id,
                emails=emails,
                github_logins=logins,
                now=self.clock.now(),
            )
            if accept
            else o.DeclineInvitation(
                invitation_id=invitation_id, user_id=principal.user_id, emails=emails, github_logins=logins
            )
        )
        await self.identity.run_org(org_id, command, principal.actor)

    async def _invitations(self, where: str, *args: Any) -> list[InvitationView]:
        rows = await self.pool.fetch(
            f"""SELECT i.*, o.name AS org_name FROM id_invitations i JOIN id_orgs o USING (org_id)
                WHERE {where} ORDER BY i.created_at""",  # noqa: S608 - fixed fragments from this module
            *args,
        )
        now = self.clock.now()
        return [
            InvitationView(
                id=r["invitation_id"],
                org_id=r["org_id"],
                org_name=r["org_name"],
                email=r["email"],
                github_login=r["github_login"],
                role=r["role"],
                teams=json.loads(r["teams"]),
                expires_at=r["expires_at"],
                status="expired" if r["status"] == "pending" and r["expires_at"] <= now else r["status"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ quotas and usage

    async def set_quota(
        self, principal: Principal, org_id: str, scope: o.QuotaScope, user_id: str | None, body: LimitsBody
    ) -> None:
        limits = msgspec.convert(msgspec.to_builtins(body), Limits)
        await self.identity.run_org(org_id, o.SetQuota(scope=scope, user_id=user_id, limits=limits), principal.actor)

    async def quotas(self, org_id: str) -> QuotasView:
        state = await self.identity.org(org_id)
        if state is None:
            raise errors.NotFound("organization", org_id)
        return QuotasView(
            org=_limits(state.quota_org),
            default_user=_limits(state.quota_default_user),
            users={u: _limits(lim) for u, lim in state.quota_users.items()},
        )

    async def totals(self, org_id: str, since: datetime) -> tuple[UsageTotals, dict[str, UsageTotals]]:
        """Workspace-hours and CPU-hours since ``since`` (running intervals, clipped)."""
        now = self.clock.now()
        rows = await self.pool.fetch(
            """SELECT owner_id,
                      sum(extract(epoch FROM least(coalesce(ended_at, $3), $3) - greatest(started_at, $2))) / 3600
                        AS hours,
                      sum(cpu * extract(epoch FROM least(coalesce(ended_at, $3), $3) - greatest(started_at, $2))) / 3600
                        AS cpu_hours
               FROM usage_intervals
               WHERE org_id = $1 AND coalesce(ended_at, $3) > $2 AND started_at < $3
               GROUP BY owner_id""",
            org_id,
            since,
            now,
        )
        users = {
            r["owner_id"]: UsageTotals(
                since=since, workspace_hours=round(float(r["hours"]), 6), cpu_hours=round(float(r["cpu_hours"]), 6)
            )
            for r in rows
        }
        total = UsageTotals(
            since=since,
            workspace_hours=round(sum(u.workspace_hours for u in users.values()), 6),
            cpu_hours=round(sum(u.cpu_hours for u in users.values()), 6),
        )
        return total, users

    async def usage(self, org_id: str, since: datetime | None = None) -> OrgUsage:
        users = [
            r["user_id"] for r in await self.pool.fetch("SELECT user_id FROM id_members WHERE org_id = $1", org_id)
        ]
        org_limits, _ = await quota.limits_for(self.pool, org_id, "")
        out = OrgUsage(
            org=Budget(limits=_limits(org_limits), usage=_usage(await quota.usage(self.pool, org_id, None))), users={}
        )
        for user_id in users:
            _, user_limits = await quota.limits_for(self.pool, org_id, user_id)
            out.users[user_id] = Budget(
                limits=_limits(user_limits), usage=_usage(await quota.usage(self.pool, org_id, user_id))
            )
        now = self.clock.now()
        out.totals, out.user_totals = await self.totals(
            org_id, since or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        return out

    async def my_usage(self, principal: Principal) -> dict[str, Budget]:
        out = {}
        for org_id in principal.subject.roles:
            _, user_limits = await quota.limits_for(self.pool, org_id, principal.user_id)
            out[org_id] = Budget(
                limits=_limits(user_limits), usage=_usage(await quota.usage(self.pool, org_id, principal.user_id))
            )
        return out


__all__ = ["OrgService", "i"]
