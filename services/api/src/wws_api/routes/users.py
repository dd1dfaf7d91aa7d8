"""``/api/v1/users``: who I am, my API tokens, my secrets, my invitations and usage; for
instance admins, every user and suspension."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from wws_api import errors
from wws_api.access import policy
from wws_api.accounts import Accounts
from wws_api.auth import Principal
from wws_api.identity import Identity
from wws_api.orgs import OrgService
from wws_api.schemas_identity import (
    Budget,
    IdentityView,
    InvitationView,
    Me,
    Membership,
    ProfilePatch,
    SecretPut,
    SecretView,
    TokenCreate,
    TokenCreated,
    TokenView,
    UserSummary,
)
from wws_api.settings import ApiSettings
from wws_events import identity as i

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _check_target(inject: str, target: str) -> None:
    if inject == "env":
        if not _ENV.match(target):
            raise errors.BadRequestField("target", "an environment variable name (letters, digits, _)")
        return
    parts = target.split("/")
    if target.startswith("/") or any(p in ("", ".", "..") for p in parts) or len(target) > 255:
        raise errors.BadRequestField("target", "a path relative to the home directory, without '..'")


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get(
        "/me",
        summary="Who I am: profile, organizations and roles, how I authenticated",
        opt=policy("self.read", "self"),
    )
    async def me(self, request: Request[Principal, Any, Any], identity: NamedDependency[Identity]) -> Me:
        p = request.user
        user = await identity.pool.fetchrow("SELECT * FROM id_users WHERE user_id = $1", p.user_id)
        assert user is not None  # the authenticator found the user
        orgs = await identity.pool.fetch(
            """SELECT o.org_id, o.name, m.role,
                      coalesce(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}') AS teams
               FROM id_members m JOIN id_orgs o USING (org_id)
               LEFT JOIN id_team_members tm ON tm.user_id = m.user_id
               LEFT JOIN id_teams t ON t.team_id = tm.team_id AND t.org_id = m.org_id
               WHERE m.user_id = $1 GROUP BY o.org_id, o.name, m.role ORDER BY o.name""",
            p.user_id,
        )
        idents = await identity.pool.fetch(
            "SELECT provider, login, email, email_verified FROM id_identities WHERE user_id = $1 ORDER BY provider",
            p.user_id,
        )
        auth: dict[str, Any] = {"via": p.auth.via, "scopes": sorted(p.auth.scopes) if p.auth.scopes else ["all"]}
        if p.auth.csrf:
            auth["csrf"] = p.auth.csrf
        return Me(
            id=user["user_id"],
            login=user["login"],
            name=user["name"],
            email=user["email"],
            instance_admin=user["instance_admin"],
            suspended=user["suspended"],
            orgs=[Membership(org_id=r["org_id"], name=r["name"], role=r["role"], teams=list(r["teams"])) for r in orgs],
            identities=[IdentityView(**dict(r)) for r in idents],
            current_org=p.org_id,
            auth=auth,
        )

    @patch("/me", summary="Change my name or email address", opt=policy("self.tokens", "self"))
    async def update_me(
        self, request: Request[Principal, Any, Any], data: JSONBody[ProfilePatch], identity: NamedDependency[Identity]
    ) -> None:
        state = await identity.user(request.user.user_id)
        assert state is not None
        await identity.run_user(
            state.user_id,
            i.UpdateProfile(
                name=data.name if data.name is not None else state.name,
                email=data.email if data.email is not None else state.email,
            ),
            request.user.actor,
        )

    # ------------------------------------------------------------------ tokens

    @get("/me/tokens", summary="My API tokens (never their values)", opt=policy("self.read", "self"))
    async def tokens(
        self, request: Request[Principal, Any, Any], accounts: NamedDependency[Accounts]
    ) -> list[TokenView]:
        return [TokenView(**t) for t in await accounts.list_tokens(request.user.user_id)]

    @post("/me/tokens", summary="Create an API token (its value is shown once)", opt=policy("self.tokens", "self"))
    async def create_token(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TokenCreate],
        accounts: NamedDependency[Accounts],
        settings: NamedDependency[ApiSettings],
    ) -> TokenCreated:
        if data.expires_in_s > settings.token_max_ttl_s:
            raise errors.BadRequestField("expires_in_s", f"at most {settings.token_max_ttl_s} seconds")
        p = request.user
        if p.auth.scopes is not None and "all" not in p.auth.scopes and not set(data.scopes) <= p.auth.scopes:
            raise errors.BadRequestField("scopes", "a token cannot mint a token with scopes it does not have")
        expires = accounts.clock.now() + timedelta(seconds=data.expires_in_s)
        made = await accounts.create_token(p.user_id, data.name, list(data.scopes), expires, p.actor)
        return TokenCreated(
            id=made.token_id,
            name=made.state.name,
            scopes=made.state.scopes,
            expires_at=made.state.expires_at,
            token=made.token,
        )

    @delete("/me/tokens/{token_id:str}", summary="Revoke one of my API tokens", opt=policy("self.tokens", "self"))
    async def revoke_token(
        self, request: Request[Principal, Any, Any], accounts: NamedDependency[Accounts], token_id: FromPath[str]
    ) -> None:
        await accounts.revoke_token(request.user.user_id, token_id, request.user.actor)

    # ------------------------------------------------------------------ secrets

    @get(
        "/me/secrets",
        summary="My secrets (names and how they are injected; never values)",
        opt=policy("self.read", "self"),
    )
    async def secrets(
        self, request: Request[Principal, Any, Any], accounts: NamedDependency[Accounts]
    ) -> list[SecretView]:
        return [SecretView(**s) for s in await accounts.list_secrets(request.user.user_id)]

    @put(
        "/me/secrets/{name:str}",
        summary="Store a secret, injected into my workspaces at start (env or file)",
        opt=policy("self.secrets", "self"),
        status_code=204,
    )
    async def put_secret(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[SecretPut],
        accounts: NamedDependency[Accounts],
        name: FromPath[str],
    ) -> None:
        if not _NAME.match(name) or name in (".", ".."):
            raise errors.BadRequestField("name", "letters, digits, '.', '_' and '-', at most 64")
        _check_target(data.inject, data.target)
        await accounts.set_secret(request.user.user_id, name, data.value, data.inject, data.target, request.user.actor)

    @delete("/me/secrets/{name:str}", summary="Delete one of my secrets", opt=policy("self.secrets", "self"))
    async def delete_secret(
        self, request: Request[Principal, Any, Any], accounts: NamedDependency[Accounts], name: FromPath[str]
    ) -> None:
        await accounts.delete_secret(request.user.user_id, name, request.user.actor)

    # ------------------------------------------------------------------ invitations and usage

    @get("/me/invitations", summary="Pending invitations addressed to me", opt=policy("self.read", "self"))
    async def invitations(
        self, request: Request[Principal, Any, Any], orgs: NamedDependency[OrgService]
    ) -> list[InvitationView]:
        return await orgs.my_invitations(request.user)

    @get("/me/usage", summary="What I use against my quota, per organization", opt=policy("self.read", "self"))
    async def usage(
        self, request: Request[Principal, Any, Any], orgs: NamedDependency[OrgService]
    ) -> dict[str, Budget]:
        return await orgs.my_usage(request.user)

    # ------------------------------------------------------------------ instance admins

    @get("/", summary="Every user (instance admins)", opt=policy("user.list", "instance"))
    async def list_users(self, identity: NamedDependency[Identity]) -> list[UserSummary]:
        rows = await identity.pool.fetch("SELECT * FROM id_users ORDER BY login, user_id")
        return [
            UserSummary(
                id=r["user_id"],
                login=r["login"],
                name=r["name"],
                email=r["email"],
                instance_admin=r["instance_admin"],
                suspended=r["suspended"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    @post(
        "/{user_id:str}/suspend",
        summary="Suspend a user (instance admins)",
        opt=policy("user.suspend", "instance"),
        status_code=204,
    )
    async def suspend(
        self, request: Request[Principal, Any, Any], identity: NamedDependency[Identity], user_id: FromPath[str]
    ) -> None:
        if user_id == request.user.user_id:
            raise errors.BadRequestField("user_id", "you cannot suspend yourself")
        await identity.run_user(user_id, i.SuspendUser(reason="suspended by an instance admin"), request.user.actor)
        # a suspended user's sessions end now; tokens stop working through the suspension flag
        await identity.pool.execute("DELETE FROM auth_sessions WHERE user_id = $1", user_id)

    @post(
        "/{user_id:str}/reactivate",
        summary="Lift a suspension (instance admins)",
        opt=policy("user.suspend", "instance"),
        status_code=204,
    )
    async def reactivate(
        self, request: Request[Principal, Any, Any], identity: NamedDependency[Identity], user_id: FromPath[str]
    ) -> None:
        await identity.run_user(user_id, i.ReactivateUser(), request.user.actor)
