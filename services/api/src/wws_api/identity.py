"""Running user and organization commands (one transaction: append the events, bring the
identity projection to the head, and whatever table writes belong with them), reading
who a user is for the policy, and the first-run bootstrap."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, get_args

import asyncpg
import structlog

from wws_api.identity_model import IdentityModel
from wws_authz import Subject
from wws_events import Actor
from wws_events import identity as i
from wws_events import org as o
from wws_events.ids import command_id as derive_command_id
from wws_service.clock import Clock
from wws_service.tracing import current_traceparent
from wws_store import aggregates, projection
from wws_store.db import Conn, Executor
from wws_store.errors import ConcurrencyError

log = structlog.get_logger("wws.api.identity")
MAX_ATTEMPTS = 5
IDENTITY = IdentityModel()
BOOTSTRAP_USER = "admin"
"""The first owner's user id (the spine's admin actor, so its history stays theirs)."""
DEFAULT_ORG = "default"
SYSTEM_BOOTSTRAP = Actor(type="system", id="bootstrap")

USERS: aggregates.Aggregate[i.UserState | None, i.UserCommand] = aggregates.Aggregate(
    stream=i.user_stream,
    events=get_args(i.UserEvent),
    decide=i.decide_user,
    evolve=lambda s, d, env: i.evolve_user(s, d, stream_version=env.stream_version or 0, at=env.occurred_at),
)
ORGS: aggregates.Aggregate[o.OrgState | None, o.OrgCommand] = aggregates.Aggregate(
    stream=o.org_stream,
    events=get_args(o.OrgEvent),
    decide=o.decide_org,
    evolve=lambda s, d, env: o.evolve_org(s, d, stream_version=env.stream_version or 0, at=env.occurred_at),
)

_WHOAMI = """
SELECT u.instance_admin, u.suspended, u.login,
       coalesce((SELECT json_object_agg(org_id, role) FROM id_members WHERE user_id = $1), '{}')::text AS roles,
       coalesce((SELECT json_agg(json_build_array(t.org_id, t.team_id))
                 FROM id_team_members m JOIN id_teams t USING (team_id) WHERE m.user_id = $1), '[]')::text AS teams,
       (SELECT org_id FROM id_members WHERE user_id = $1
        ORDER BY (org_id = $2) DESC, joined_at, org_id LIMIT 1) AS default_org
FROM id_users u WHERE u.user_id = $1
"""

S = TypeVar("S")
C = TypeVar("C")
Extra = Callable[[Conn, "aggregates.Executed[Any]"], Awaitable[None]]


class Identity:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock

    async def run(
        self,
        agg: aggregates.Aggregate[S, C],
        key: str,
        command: C,
        *,
        actor: Actor,
        org_id: str,
        command_id: uuid.UUID | None = None,
        extra: Extra | None = None,
        conn: Conn | None = None,
    ) -> aggregates.Executed[S]:
        """Execute ``command`` on the aggregate ``key``; ``extra`` runs in the same
        transaction after a successful append (secret tables, name indexes)."""
        cmd_id = command_id or uuid.uuid4()
        if conn is not None:
            return await self._once(conn, agg, key, command, actor, org_id, cmd_id, extra)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as c, c.transaction():
                    return await self._once(c, agg, key, command, actor, org_id, cmd_id, extra)
            except ConcurrencyError:
                if attempt == MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _once(
        self,
        conn: Conn,
        agg: aggregates.Aggregate[S, C],
        key: str,
        command: C,
        actor: Actor,
        org_id: str,
        cmd_id: uuid.UUID,
        extra: Extra | None,
    ) -> aggregates.Executed[S]:
        initial: Any = None
        result = await aggregates.execute_in(
            conn,
            agg,
            key,
            command,
            command_id=cmd_id,
            actor=actor,
            org_id=org_id,
            now=self.clock.now(),
            traceparent=current_traceparent(),
            initial=initial,
        )
        if result.stored:
            await projection.catch_up_in(conn, IDENTITY)
            if extra is not None:
                await extra(conn, result)
        return result

    async def user(self, user_id: str, db: Executor | None = None) -> i.UserState | None:
        state, _ = await aggregates.load(db or self.pool, USERS, user_id, None)
        return state

    async def org(self, org_id: str, db: Executor | None = None) -> o.OrgState | None:
        state, _ = await aggregates.load(db or self.pool, ORGS, org_id, None)
        return state

    async def run_user(self, user_id: str, command: i.UserCommand, actor: Actor, **kw: Any) -> i.UserState | None:
        result = await self.run(USERS, user_id, command, actor=actor, org_id=i.INSTANCE, **kw)
        return result.state

    async def run_org(self, org_id: str, command: o.OrgCommand, actor: Actor, **kw: Any) -> o.OrgState | None:
        result = await self.run(ORGS, org_id, command, actor=actor, org_id=org_id, **kw)
        return result.state

    # ------------------------------------------------------------------ reading

    async def subject(self, db: Executor, user_id: str, scopes: frozenset[str] | None = None) -> Subject | None:
        """What the policy needs to know about ``user_id`` (None: no such user)."""
        found = await self.whoami(db, user_id, scopes)
        return found[0] if found else None

    async def whoami(
        self, db: Executor, user_id: str, scopes: frozenset[str] | None = None
    ) -> tuple[Subject, str, str | None] | None:
        """(the policy's subject, the login, the default organization) in one round trip:
        every authenticated request asks."""
        row = await db.fetchrow(_WHOAMI, user_id, DEFAULT_ORG)
        if row is None:
            return None
        teams: dict[str, set[str]] = {}
        for org_id, team_id in json.loads(row["teams"]):
            teams.setdefault(org_id, set()).add(team_id)
        subject = Subject(
            user_id=user_id,
            instance_admin=row["instance_admin"],
            roles=json.loads(row["roles"]),
            teams={k: frozenset(v) for k, v in teams.items()},
            scopes=scopes,
            suspended=row["suspended"],
        )
        return subject, row["login"], row["default_org"]

    async def default_org(self, db: Executor, user_id: str) -> str | None:
        """The organization a request without ``WWS-Org`` acts in: ``default`` when the user
        belongs to it, else the one joined first."""
        found: str | None = await db.fetchval(
            """SELECT org_id FROM id_members WHERE user_id = $1
               ORDER BY (org_id = $2) DESC, joined_at, org_id LIMIT 1""",
            user_id,
            DEFAULT_ORG,
        )
        return found

    async def resolve_org(self, db: Executor, ident: str) -> str | None:
        """An organization id from its id or name."""
        found: str | None = await db.fetchval(
            "SELECT org_id FROM id_orgs WHERE org_id = $1 OR name = $1 LIMIT 1", ident
        )
        return found

    # ------------------------------------------------------------------ first run

    async def bootstrap(self) -> bool:
        """On an empty instance: the first owner (``admin``, instance admin) and the
        ``default`` organization, as events. Safe with replicas starting together: the
        command ids are fixed, so the second run is recognised as a replay."""
        if await self.pool.fetchval("SELECT EXISTS (SELECT 1 FROM id_users)"):
            return False
        if await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM wws_events WHERE stream_id = $1)", i.user_stream(BOOTSTRAP_USER)
        ):
            await projection.catch_up(self.pool, IDENTITY)
            return False
        async with self.pool.acquire() as conn, conn.transaction():
            await self.run(
                USERS,
                BOOTSTRAP_USER,
                i.CreateUser(user_id=BOOTSTRAP_USER, login="admin", name="First owner", instance_admin=True),
                actor=SYSTEM_BOOTSTRAP,
                org_id=i.INSTANCE,
                command_id=derive_command_id("bootstrap", "user", BOOTSTRAP_USER),
                conn=conn,
            )
            if await self.org(DEFAULT_ORG, conn) is None:
                await self.run(
                    ORGS,
                    DEFAULT_ORG,
                    o.CreateOrg(org_id=DEFAULT_ORG, name=DEFAULT_ORG, display_name="Default", owner_id=BOOTSTRAP_USER),
                    actor=SYSTEM_BOOTSTRAP,
                    org_id=DEFAULT_ORG,
                    command_id=derive_command_id("bootstrap", "org", DEFAULT_ORG),
                    conn=conn,
                )
        log.info("identity.bootstrapped", user=BOOTSTRAP_USER, org=DEFAULT_ORG)
        return True
