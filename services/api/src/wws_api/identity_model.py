"""Projection ``identity``: users, identities, organizations, members, teams, invitations,
quotas, token and secret metadata (``id_*`` tables) from ``user.*`` and ``org.*`` events.

The API brings it to the head inside every transaction that appends identity events
(``projection.catch_up_in`` under the append lock), so authorization reads exactly what
the log says; the runner keeps it current otherwise and rebuilds it from position 0.
"""

from __future__ import annotations

import json

import msgspec

from wws_events import Envelope
from wws_events import identity as i
from wws_events import org as o
from wws_store.db import Conn
from wws_store.eventstore import StoredEvent


class IdentityModel:
    name: str = "identity"
    tables: tuple[str, ...] = (
        "id_users",
        "id_identities",
        "id_orgs",
        "id_members",
        "id_teams",
        "id_team_members",
        "id_invitations",
        "id_quotas",
        "id_tokens",
        "id_user_secrets",
    )

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        env = event.envelope
        if not isinstance(env, Envelope):
            return
        if env.stream_type == "user":
            await self._user(conn, env, env.stream_id.removeprefix("user-"))
        elif env.stream_type == "org":
            await self._org(conn, env, env.stream_id.removeprefix("org-"))

    async def _user(self, conn: Conn, env: Envelope, user_id: str) -> None:
        d, at = env.data, env.occurred_at
        match d:
            case i.UserCreated():
                await conn.execute(
                    """INSERT INTO id_users (user_id, login, name, email, instance_admin, created_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (user_id) DO NOTHING""",
                    d.user_id,
                    d.login,
                    d.name,
                    d.email,
                    d.instance_admin,
                    at,
                )
            case i.UserIdentityLinked():
                await conn.execute(
                    """INSERT INTO id_identities (provider, subject, user_id, login, email, email_verified)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (provider, subject) DO UPDATE SET login = EXCLUDED.login, email = EXCLUDED.email,
                         email_verified = EXCLUDED.email_verified""",
                    d.provider,
                    d.subject,
                    user_id,
                    d.login,
                    d.email,
                    d.email_verified,
                )
            case i.UserProfileUpdated():
                await conn.execute(
                    "UPDATE id_users SET name = $2, email = $3, updated_at = $4 WHERE user_id = $1",
                    user_id,
                    d.name,
                    d.email,
                    at,
                )
            case i.UserSuspended() | i.UserReactivated():
                await conn.execute(
                    "UPDATE id_users SET suspended = $2, updated_at = $3 WHERE user_id = $1",
                    user_id,
                    isinstance(d, i.UserSuspended),
                    at,
                )
            case i.UserTokenCreated():
                await conn.execute(
                    """INSERT INTO id_tokens (token_id, user_id, name, scopes, expires_at, created_at)
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_id) DO NOTHING""",
                    d.token_id,
                    user_id,
                    d.name,
                    d.scopes,
                    d.expires_at,
                    at,
                )
            case i.UserTokenRevoked():
                await conn.execute(
                    "UPDATE id_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE token_id = $1", d.token_id, at
                )
            case i.UserSecretSet():
                await conn.execute(
                    """INSERT INTO id_user_secrets (user_id, name, inject, target, updated_at) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (user_id, name) DO UPDATE SET inject = EXCLUDED.inject, target = EXCLUDED.target,
                         updated_at = EXCLUDED.updated_at""",
                    user_id,
                    d.name,
                    d.inject,
                    d.target,
                    at,
                )
            case i.UserSecretDeleted():
                await conn.execute("DELETE FROM id_user_secrets WHERE user_id = $1 AND name = $2", user_id, d.name)
            case _:
                pass  # logins and logouts: facts for the audit trail, nothing to show here

    async def _org(self, conn: Conn, env: Envelope, org_id: str) -> None:
        d, at = env.data, env.occurred_at
        match d:
            case o.OrgCreated():
                await conn.execute(
                    """INSERT INTO id_orgs (org_id, name, display_name, created_at) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (org_id) DO NOTHING""",
                    d.org_id,
                    d.name,
                    d.display_name,
                    at,
                )
            case o.OrgMemberAdded():
                await conn.execute(
                    """INSERT INTO id_members (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role""",
                    org_id,
                    d.user_id,
                    d.role,
                    at,
                )
            case o.OrgMemberRoleChanged():
                await conn.execute(
                    "UPDATE id_members SET role = $3 WHERE org_id = $1 AND user_id = $2", org_id, d.user_id, d.role
                )
            case o.OrgMemberRemoved():
                await conn.execute("DELETE FROM id_members WHERE org_id = $1 AND user_id = $2", org_id, d.user_id)
                await conn.execute(
                    """DELETE FROM id_team_members WHERE user_id = $2
                       AND team_id IN (SELECT team_id FROM id_teams WHERE org_id = $1)""",
                    org_id,
                    d.user_id,
                )
                await conn.execute(
                    "DELETE FROM id_quotas WHERE org_id = $1 AND scope = $2", org_id, f"user:{d.user_id}"
                )
            case o.OrgTeamCreated():
                await conn.execute(
                    "INSERT INTO id_teams (team_id, org_id, name, idp_group) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    d.team_id,
                    org_id,
                    d.name,
                    d.idp_group,
                )
            case o.OrgTeamDeleted():
                await conn.execute("DELETE FROM id_team_members WHERE team_id = $1", d.team_id)
                await conn.execute("DELETE FROM id_teams WHERE team_id = $1", d.team_id)
            case o.OrgTeamMemberAdded():
                await conn.execute(
                    "INSERT INTO id_team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    d.team_id,
                    d.user_id,
                )
            case o.OrgTeamMemberRemoved():
                await conn.execute(
                    "DELETE FROM id_team_members WHERE team_id = $1 AND user_id = $2", d.team_id, d.user_id
                )
            case o.OrgInvitationCreated():
                await conn.execute(
                    """INSERT INTO id_invitations (invitation_id, org_id, email, github_login, role, teams, expires_at,
                         status, created_by, created_at)
                       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 'pending', $8, $9) ON CONFLICT DO NOTHING""",
                    d.invitation_id,
                    org_id,
                    d.email,
                    d.github_login,
                    d.role,
                    json.dumps(d.teams),
                    d.expires_at,
                    str(env.actor),
                    at,
                )
            case o.OrgInvitationAccepted() | o.OrgInvitationDeclined():
                await conn.execute(
                    """UPDATE id_invitations SET status = $2, answered_by = $3, answered_at = $4
                       WHERE invitation_id = $1""",
                    d.invitation_id,
                    "accepted" if isinstance(d, o.OrgInvitationAccepted) else "declined",
                    d.user_id,
                    at,
                )
            case o.OrgInvitationRevoked():
                await conn.execute(
                    "UPDATE id_invitations SET status = 'revoked', answered_at = $2 WHERE invitation_id = $1",
                    d.invitation_id,
                    at,
                )
            case o.OrgQuotaSet():
                scope = f"user:{d.user_id}" if d.scope == "user" else d.scope
                await conn.execute(
                    """INSERT INTO id_quotas (org_id, scope, limits) VALUES ($1, $2, $3::jsonb)
                       ON CONFLICT (org_id, scope) DO UPDATE SET limits = EXCLUDED.limits""",
                    org_id,
                    scope,
                    msgspec.json.encode(d.limits).decode(),
                )
            case _:
                pass
