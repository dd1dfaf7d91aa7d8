"""The Organization aggregate (stream ``org-<id>``): members and their roles, teams,
invitations and quotas. Its rules: an organization always keeps an owner; only owners
make or unmake owners; an invitation is accepted once, by the person it names, before
it expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, assert_never

import msgspec

from wws_events._base import CommandData, EventData
from wws_events.errors import DomainError
from wws_events.quota import Limits

Role = Literal["owner", "admin", "template_admin", "auditor", "member"]
ROLES: tuple[Role, ...] = ("owner", "admin", "template_admin", "auditor", "member")
QuotaScope = Literal["org", "default_user", "user"]


class _OrgEvent(EventData, frozen=True, kw_only=True):
    STREAM_TYPE: ClassVar[str] = "org"


class OrgCreated(_OrgEvent, frozen=True, kw_only=True, tag="org.created"):
    org_id: str
    name: str
    display_name: str = ""


class OrgMemberAdded(_OrgEvent, frozen=True, kw_only=True, tag="org.member_added"):
    user_id: str
    role: Role
    invitation_id: str | None = None


class OrgMemberRoleChanged(_OrgEvent, frozen=True, kw_only=True, tag="org.member_role_changed"):
    user_id: str
    role: Role


class OrgMemberRemoved(_OrgEvent, frozen=True, kw_only=True, tag="org.member_removed"):
    user_id: str


class OrgTeamCreated(_OrgEvent, frozen=True, kw_only=True, tag="org.team_created"):
    team_id: str
    name: str
    idp_group: str | None = None
    """Members of this identity-provider group join the team at login (OIDC group sync)."""


class OrgTeamDeleted(_OrgEvent, frozen=True, kw_only=True, tag="org.team_deleted"):
    team_id: str


class OrgTeamMemberAdded(_OrgEvent, frozen=True, kw_only=True, tag="org.team_member_added"):
    team_id: str
    user_id: str


class OrgTeamMemberRemoved(_OrgEvent, frozen=True, kw_only=True, tag="org.team_member_removed"):
    team_id: str
    user_id: str


class OrgInvitationCreated(_OrgEvent, frozen=True, kw_only=True, tag="org.invitation_created"):
    invitation_id: str
    email: str | None = None
    github_login: str | None = None
    role: Role
    teams: list[str] = []
    expires_at: datetime


class OrgInvitationAccepted(_OrgEvent, frozen=True, kw_only=True, tag="org.invitation_accepted"):
    invitation_id: str
    user_id: str


class OrgInvitationDeclined(_OrgEvent, frozen=True, kw_only=True, tag="org.invitation_declined"):
    invitation_id: str
    user_id: str


class OrgInvitationRevoked(_OrgEvent, frozen=True, kw_only=True, tag="org.invitation_revoked"):
    invitation_id: str


class OrgQuotaSet(_OrgEvent, frozen=True, kw_only=True, tag="org.quota_set"):
    scope: QuotaScope
    user_id: str | None = None
    limits: Limits


OrgEvent = (
    OrgCreated
    | OrgMemberAdded
    | OrgMemberRoleChanged
    | OrgMemberRemoved
    | OrgTeamCreated
    | OrgTeamDeleted
    | OrgTeamMemberAdded
    | OrgTeamMemberRemoved
    | OrgInvitationCreated
    | OrgInvitationAccepted
    | OrgInvitationDeclined
    | OrgInvitationRevoked
    | OrgQuotaSet
)

# ---------------------------------------------------------------- commands


class CreateOrg(CommandData, frozen=True, kw_only=True, tag="org.create"):
    org_id: str
    name: str
    display_name: str = ""
    owner_id: str


class AddMember(CommandData, frozen=True, kw_only=True, tag="org.add_member"):
    user_id: str
    role: Role
    by_owner: bool
    """The acting member is an owner (only owners hand out the owner role)."""


class ChangeRole(CommandData, frozen=True, kw_only=True, tag="org.change_role"):
    user_id: str
    role: Role
    by_owner: bool


class RemoveMember(CommandData, frozen=True, kw_only=True, tag="org.remove_member"):
    user_id: str
    by_owner: bool


class CreateTeam(CommandData, frozen=True, kw_only=True, tag="org.create_team"):
    team_id: str
    name: str
    idp_group: str | None = None


class DeleteTeam(CommandData, frozen=True, kw_only=True, tag="org.delete_team"):
    team_id: str


class AddTeamMember(CommandData, frozen=True, kw_only=True, tag="org.add_team_member"):
    team_id: str
    user_id: str


class RemoveTeamMember(CommandData, frozen=True, kw_only=True, tag="org.remove_team_member"):
    team_id: str
    user_id: str


class Invite(CommandData, frozen=True, kw_only=True, tag="org.invite"):
    invitation_id: str
    email: str | None = None
    github_login: str | None = None
    role: Role
    teams: list[str] = []
    expires_at: datetime
    now: datetime
    by_owner: bool


class AcceptInvitation(CommandData, frozen=True, kw_only=True, tag="org.accept_invitation"):
    invitation_id: str
    user_id: str
    emails: list[str]
    """The accepting user's verified addresses."""
    github_logins: list[str]
    now: datetime


class DeclineInvitation(CommandData, frozen=True, kw_only=True, tag="org.decline_invitation"):
    invitation_id: str
    user_id: str
    emails: list[str]
    github_logins: list[str]


class RevokeInvitation(CommandData, frozen=True, kw_only=True, tag="org.revoke_invitation"):
    invitation_id: str


class SetQuota(CommandData, frozen=True, kw_only=True, tag="org.set_quota"):
    scope: QuotaScope
    user_id: str | None = None
    limits: Limits


class SyncTeams(CommandData, frozen=True, kw_only=True, tag="org.sync_teams"):
    """At login: put ``user_id`` in exactly the teams mapped to its identity-provider groups."""

    user_id: str
    groups: list[str]


OrgCommand = (
    CreateOrg
    | AddMember
    | ChangeRole
    | RemoveMember
    | CreateTeam
    | DeleteTeam
    | AddTeamMember
    | RemoveTeamMember
    | Invite
    | AcceptInvitation
    | DeclineInvitation
    | RevokeInvitation
    | SetQuota
    | SyncTeams
)

# ---------------------------------------------------------------- state


class Team(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    idp_group: str | None = None
    members: frozenset[str] = frozenset()


class Invitation(msgspec.Struct, frozen=True, kw_only=True):
    email: str | None
    github_login: str | None
    role: Role
    teams: list[str]
    expires_at: datetime
    status: Literal["pending", "accepted", "declined", "revoked"] = "pending"


class OrgState(msgspec.Struct, frozen=True, kw_only=True):
    org_id: str
    name: str
    display_name: str
    members: dict[str, Role] = {}
    teams: dict[str, Team] = {}
    invitations: dict[str, Invitation] = {}
    quota_org: Limits = Limits()
    quota_default_user: Limits = Limits()
    quota_users: dict[str, Limits] = {}
    stream_version: int
    created_at: datetime

    def user_limits(self, user_id: str) -> Limits:
        return self.quota_users.get(user_id, self.quota_default_user)


class OrgNotFound(DomainError):
    code = "org_not_found"

    def __init__(self, ident: str) -> None:
        self.ident = ident
        super().__init__(f"organization {ident} does not exist")


class OrgConflict(DomainError):
    """Contradicts the organization's state or rules (HTTP 409)."""

    code = "org_conflict"


class OrgForbidden(DomainError):
    """Allowed by role, refused by an organization rule (only owners touch owners) (HTTP 403)."""

    code = "org_forbidden"


class OrgItemNotFound(DomainError):
    code = "org_item_not_found"


class InvitationUnusable(DomainError):
    """Expired, already answered, or naming someone else (HTTP 409/410)."""

    code = "invitation_unusable"


def org_stream(org_id: str) -> str:
    return f"org-{org_id}"


def _owners(state: OrgState) -> int:
    return sum(1 for r in state.members.values() if r == "owner")


def _team(state: OrgState, team_id: str) -> Team:
    team = state.teams.get(team_id)
    if team is None:
        raise OrgItemNotFound(f"team {team_id} does not exist")
    return team


def _invitation(state: OrgState, invitation_id: str) -> Invitation:
    inv = state.invitations.get(invitation_id)
    if inv is None:
        raise OrgItemNotFound(f"invitation {invitation_id} does not exist")
    return inv


def _names_invitee(inv: Invitation, emails: list[str], logins: list[str]) -> bool:
    return bool(
        (inv.email and inv.email.lower() in {e.lower() for e in emails})
        or (inv.github_login and inv.github_login.lower() in {x.lower() for x in logins})
    )


def decide_org(state: OrgState | None, command: OrgCommand) -> list[OrgEvent]:
    if isinstance(command, CreateOrg):
        if state is not None:
            raise OrgConflict(f"organization {command.org_id} exists")
        return [
            OrgCreated(org_id=command.org_id, name=command.name, display_name=command.display_name),
            OrgMemberAdded(user_id=command.owner_id, role="owner"),
        ]
    if state is None:
        raise OrgNotFound("?")
    match command:
        case AddMember():
            if command.user_id in state.members:
                raise OrgConflict(f"user {command.user_id} is already a member")
            if command.role == "owner" and not command.by_owner:
                raise OrgForbidden("only an owner can add an owner")
            return [OrgMemberAdded(user_id=command.user_id, role=command.role)]
        case ChangeRole():
            current = state.members.get(command.user_id)
            if current is None:
                raise OrgItemNotFound(f"user {command.user_id} is not a member")
            if "owner" in (current, command.role) and not command.by_owner:
                raise OrgForbidden("only an owner can make or unmake an owner")
            if current == command.role:
                return []
            if current == "owner" and _owners(state) == 1:
                raise OrgConflict("an organization keeps at least one owner")
            return [OrgMemberRoleChanged(user_id=command.user_id, role=command.role)]
        case RemoveMember():
            current = state.members.get(command.user_id)
            if current is None:
                raise OrgItemNotFound(f"user {command.user_id} is not a member")
            if current == "owner" and not command.by_owner:
                raise OrgForbidden("only an owner can remove an owner")
            if current == "owner" and _owners(state) == 1:
                raise OrgConflict("an organization keeps at least one owner")
            return [OrgMemberRemoved(user_id=command.user_id)]
        case CreateTeam():
            if command.team_id in state.teams or any(t.name == command.name for t in state.teams.values()):
                raise OrgConflict(f"a team named {command.name!r} exists")
            return [OrgTeamCreated(team_id=command.team_id, name=command.name, idp_group=command.idp_group)]
        case DeleteTeam():
            _team(state, command.team_id)
            return [OrgTeamDeleted(team_id=command.team_id)]
        case AddTeamMember():
            team = _team(state, command.team_id)
            if command.user_id not in state.members:
                raise OrgConflict(f"user {command.user_id} is not a member of the organization")
            return [] if command.user_id in team.members else [OrgTeamMemberAdded(**msgspec.structs.asdict(command))]
        case RemoveTeamMember():
            team = _team(state, command.team_id)
            return [OrgTeamMemberRemoved(**msgspec.structs.asdict(command))] if command.user_id in team.members else []
        case Invite():
            if not (command.email or command.github_login):
                raise OrgConflict("an invitation names an email address or a GitHub login")
            if command.role == "owner" and not command.by_owner:
                raise OrgForbidden("only an owner can invite an owner")
            if command.expires_at <= command.now:
                raise OrgConflict("the invitation would already be expired")
            for team_id in command.teams:
                _team(state, team_id)
            if command.invitation_id in state.invitations:
                raise OrgConflict(f"invitation {command.invitation_id} exists")
            return [
                OrgInvitationCreated(
                    invitation_id=command.invitation_id,
                    email=command.email,
                    github_login=command.github_login,
                    role=command.role,
                    teams=command.teams,
                    expires_at=command.expires_at,
                )
            ]
        case AcceptInvitation():
            inv = _invitation(state, command.invitation_id)
            if not _names_invitee(inv, command.emails, command.github_logins):
                raise OrgItemNotFound(f"invitation {command.invitation_id} does not exist")  # not theirs: not shown
            if inv.status != "pending":
                raise InvitationUnusable(f"the invitation was {inv.status}")
            if inv.expires_at <= command.now:
                raise InvitationUnusable(f"the invitation expired at {inv.expires_at.isoformat()}")
            events: list[OrgEvent] = [
                OrgInvitationAccepted(invitation_id=command.invitation_id, user_id=command.user_id)
            ]
            if command.user_id not in state.members:
                events.append(
                    OrgMemberAdded(user_id=command.user_id, role=inv.role, invitation_id=command.invitation_id)
                )
            events += [
                OrgTeamMemberAdded(team_id=t, user_id=command.user_id)
                for t in inv.teams
                if t in state.teams and command.user_id not in state.teams[t].members
            ]
            return events
        case DeclineInvitation():
            inv = _invitation(state, command.invitation_id)
            if not _names_invitee(inv, command.emails, command.github_logins):
                raise OrgItemNotFound(f"invitation {command.invitation_id} does not exist")
            if inv.status != "pending":
                raise InvitationUnusable(f"the invitation was {inv.status}")
            return [OrgInvitationDeclined(invitation_id=command.invitation_id, user_id=command.user_id)]
        case RevokeInvitation():
            inv = _invitation(state, command.invitation_id)
            if inv.status != "pending":
                raise InvitationUnusable(f"the invitation was {inv.status}")
            return [OrgInvitationRevoked(invitation_id=command.invitation_id)]
        case SetQuota():
            if (command.scope == "user") != (command.user_id is not None):
                raise OrgConflict("a user quota names the user; other scopes do not")
            if command.user_id is not None and command.user_id not in state.members:
                raise OrgItemNotFound(f"user {command.user_id} is not a member")
            now_limits = {
                "org": state.quota_org,
                "default_user": state.quota_default_user,
                "user": state.quota_users.get(command.user_id or ""),
            }[command.scope]
            if now_limits == command.limits:
                return []
            return [OrgQuotaSet(scope=command.scope, user_id=command.user_id, limits=command.limits)]
        case SyncTeams():
            if command.user_id not in state.members:
                return []
            wanted = {tid for tid, t in state.teams.items() if t.idp_group and t.idp_group in command.groups}
            synced = {tid for tid, t in state.teams.items() if t.idp_group}
            out: list[OrgEvent] = []
            for tid in sorted(synced):
                inside = command.user_id in state.teams[tid].members
                if tid in wanted and not inside:
                    out.append(OrgTeamMemberAdded(team_id=tid, user_id=command.user_id))
                elif tid not in wanted and inside:
                    out.append(OrgTeamMemberRemoved(team_id=tid, user_id=command.user_id))
            return out
        case _:
            assert_never(command)


def evolve_org(state: OrgState | None, event: OrgEvent, *, stream_version: int, at: datetime) -> OrgState | None:
    if isinstance(event, OrgCreated):
        return OrgState(
            org_id=event.org_id,
            name=event.name,
            display_name=event.display_name,
            stream_version=stream_version,
            created_at=at,
        )
    if state is None:
        return None
    s = msgspec.structs.replace(state, stream_version=stream_version)
    replace = msgspec.structs.replace
    match event:
        case OrgMemberAdded() | OrgMemberRoleChanged():
            return replace(s, members={**s.members, event.user_id: event.role})
        case OrgMemberRemoved():
            teams = {k: replace(t, members=t.members - {event.user_id}) for k, t in s.teams.items()}
            quotas = {k: v for k, v in s.quota_users.items() if k != event.user_id}
            members = {k: v for k, v in s.members.items() if k != event.user_id}
            return replace(s, members=members, teams=teams, quota_users=quotas)
        case OrgTeamCreated():
            return replace(s, teams={**s.teams, event.team_id: Team(name=event.name, idp_group=event.idp_group)})
        case OrgTeamDeleted():
            return replace(s, teams={k: v for k, v in s.teams.items() if k != event.team_id})
        case OrgTeamMemberAdded() | OrgTeamMemberRemoved():
            team = s.teams.get(event.team_id)
            if team is None:
                return s
            in_team = (
                team.members | {event.user_id}
                if isinstance(event, OrgTeamMemberAdded)
                else team.members - {event.user_id}
            )
            return replace(s, teams={**s.teams, event.team_id: replace(team, members=in_team)})
        case OrgInvitationCreated():
            inv = Invitation(
                email=event.email,
                github_login=event.github_login,
                role=event.role,
                teams=event.teams,
                expires_at=event.expires_at,
            )
            return replace(s, invitations={**s.invitations, event.invitation_id: inv})
        case OrgInvitationAccepted() | OrgInvitationDeclined() | OrgInvitationRevoked():
            old = s.invitations.get(event.invitation_id)
            if old is None:
                return s
            status: Literal["accepted", "declined", "revoked"] = (
                "accepted"
                if isinstance(event, OrgInvitationAccepted)
                else "declined"
                if isinstance(event, OrgInvitationDeclined)
                else "revoked"
            )
            return replace(s, invitations={**s.invitations, event.invitation_id: replace(old, status=status)})
        case OrgQuotaSet():
            if event.scope == "org":
                return replace(s, quota_org=event.limits)
            if event.scope == "default_user":
                return replace(s, quota_default_user=event.limits)
            return replace(s, quota_users={**s.quota_users, event.user_id or "": event.limits})
        case _:
            assert_never(event)
