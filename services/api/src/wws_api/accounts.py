"""A user's credentials and secrets: API tokens (hash kept beside the ``user.token_*``
events), browser sessions, one-time login links, OAuth login state, and personal secrets
(values encrypted in ``wws_secrets``, names in ``user.secret_*`` events)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wws_api import credentials, errors
from wws_api.identity import USERS, Identity
from wws_events import Actor
from wws_events import identity as i
from wws_events.host import InjectedSecret
from wws_store import aggregates, secrets
from wws_store.db import Conn, Executor
from wws_store.secrets import Keyring

ONE_TIME_TTL = timedelta(minutes=15)
LOGIN_STATE_TTL = timedelta(minutes=10)


class Authenticated(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    via: str
    """``token``, ``session`` or ``bootstrap``."""
    scopes: frozenset[str] | None = None
    token_id: str | None = None
    session_id: str | None = None
    csrf: str | None = None


class NewToken(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    token: str
    """Shown once."""
    state: i.TokenInfo


class NewSession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    cookie: str
    csrf: str
    expires_at: datetime


class LoginState(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    nonce: str
    code_verifier: str
    redirect_to: str


class Accounts:
    def __init__(self, identity: Identity, keyring: Keyring | None) -> None:
        self.identity = identity
        self.pool = identity.pool
        self.clock = identity.clock
        self.keyring = keyring

    # ------------------------------------------------------------------ API tokens

    async def create_token(
        self, user_id: str, name: str, scopes: list[str], expires_at: datetime | None, actor: Actor
    ) -> NewToken:
        token_id, secret = credentials.new_id(), credentials.new_secret()

        async def keep_hash(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await conn.execute(
                "INSERT INTO auth_token_hashes (token_id, user_id, hash) VALUES ($1, $2, $3)",
                token_id,
                user_id,
                credentials.digest(secret),
            )

        command = i.CreateToken(
            token_id=token_id, name=name, scopes=scopes, expires_at=expires_at, now=self.clock.now()
        )
        state = await self.identity.run_user(user_id, command, actor, extra=keep_hash)
        assert state is not None
        return NewToken(token_id=token_id, token=credentials.api_token(token_id, secret), state=state.tokens[token_id])

    async def revoke_token(self, user_id: str, token_id: str, actor: Actor) -> None:
        async def forget(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await conn.execute("DELETE FROM auth_token_hashes WHERE token_id = $1", token_id)

        await self.identity.run_user(user_id, i.RevokeToken(token_id=token_id), actor, extra=forget)

    async def by_token(self, value: str) -> Authenticated | None:
        """The user behind an API token: known, matching, not revoked, not expired."""
        parsed = credentials.parse_api_token(value)
        if parsed is None:
            return None
        token_id, secret = parsed
        row = await self.pool.fetchrow(
            """SELECT h.hash, h.user_id, t.scopes, t.expires_at, t.revoked_at, h.last_used_at
               FROM auth_token_hashes h JOIN id_tokens t USING (token_id) WHERE h.token_id = $1""",
            token_id,
        )
        now = self.clock.now()
        if row is None or not credentials.matches(secret, bytes(row["hash"])) or row["revoked_at"] is not None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= now:
            return None
        if row["last_used_at"] is None or now - row["last_used_at"] > timedelta(minutes=1):
            await self.pool.execute("UPDATE auth_token_hashes SET last_used_at = $2 WHERE token_id = $1", token_id, now)
        return Authenticated(user_id=row["user_id"], via="token", scopes=frozenset(row["scopes"]), token_id=token_id)

    async def list_tokens(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT t.token_id, t.name, t.scopes, t.expires_at, t.revoked_at, t.created_at, h.last_used_at
               FROM id_tokens t LEFT JOIN auth_token_hashes h USING (token_id)
               WHERE t.user_id = $1 ORDER BY t.created_at""",
            user_id,
        )
        now = self.clock.now()
        return [
            {
                "id": r["token_id"],
                "name": r["name"],
                "scopes": list(r["scopes"]),
                "expires_at": r["expires_at"],
                "created_at": r["created_at"],
                "last_used_at": r["last_used_at"],
                "status": "revoked"
                if r["revoked_at"]
                else ("expired" if r["expires_at"] and r["expires_at"] <= now else "active"),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ sessions

    async def create_session(
        self, user_id: str, provider: i.Provider, ttl: timedelta, ip: str | None, user_agent: str | None
    ) -> NewSession:
        session_id, secret, csrf = credentials.new_id(), credentials.new_secret(), credentials.new_secret()
        now = self.clock.now()
        expires = now + ttl

        async def keep(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await conn.execute(
                """INSERT INTO auth_sessions (session_id, hash, user_id, provider, csrf, created_at, expires_at,
                     last_seen_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8, $9)""",
                session_id,
                credentials.digest(secret),
                user_id,
                provider,
                csrf,
                now,
                expires,
                ip,
                (user_agent or "")[:300],
            )

        login = i.RecordLogin(provider=provider, session_id=session_id, expires_at=expires)
        actor = Actor(type="user", id=user_id, ip=ip)
        await self.identity.run_user(user_id, login, actor, extra=keep)
        return NewSession(
            session_id=session_id, cookie=credentials.session_cookie(session_id, secret), csrf=csrf, expires_at=expires
        )

    async def by_session(self, cookie: str) -> Authenticated | None:
        parsed = credentials.parse_session_cookie(cookie)
        if parsed is None:
            return None
        session_id, secret = parsed
        row = await self.pool.fetchrow(
            "SELECT hash, user_id, csrf, expires_at, last_seen_at FROM auth_sessions WHERE session_id = $1", session_id
        )
        now = self.clock.now()
        if row is None or not credentials.matches(secret, bytes(row["hash"])) or row["expires_at"] <= now:
            return None
        if now - row["last_seen_at"] > timedelta(minutes=1):
            await self.pool.execute("UPDATE auth_sessions SET last_seen_at = $2 WHERE session_id = $1", session_id, now)
        return Authenticated(user_id=row["user_id"], via="session", session_id=session_id, csrf=row["csrf"])

    async def end_session(self, user_id: str, session_id: str, actor: Actor) -> None:
        async def drop(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await conn.execute("DELETE FROM auth_sessions WHERE session_id = $1", session_id)

        await self.identity.run_user(user_id, i.RecordLogout(session_id=session_id), actor, extra=drop)

    # ------------------------------------------------------------------ one-time links and login state

    async def one_time_link(self, user_id: str) -> str:
        secret = credentials.new_secret()
        await self.pool.execute(
            "INSERT INTO auth_one_time (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            credentials.digest(secret),
            user_id,
            self.clock.now() + ONE_TIME_TTL,
        )
        return secret

    async def redeem_one_time(self, secret: str) -> str | None:
        """The user id, once: the row is marked used in the same statement."""
        user_id: str | None = await self.pool.fetchval(
            """UPDATE auth_one_time SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING user_id""",
            credentials.digest(secret),
            self.clock.now(),
        )
        return user_id

    async def begin_login(self, state: str, login: LoginState) -> None:
        now = self.clock.now()
        await self.pool.execute("DELETE FROM auth_login_states WHERE expires_at < $1", now)
        await self.pool.execute(
            """INSERT INTO auth_login_states (state_hash, provider, nonce, code_verifier, redirect_to, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            credentials.digest(state),
            login.provider,
            login.nonce,
            login.code_verifier,
            login.redirect_to,
            now + LOGIN_STATE_TTL,
        )

    async def finish_login(self, state: str, provider: str) -> LoginState | None:
        """The login that ``state`` started, once (a replayed callback finds nothing)."""
        row = await self.pool.fetchrow(
            """DELETE FROM auth_login_states WHERE state_hash = $1 AND provider = $2 AND expires_at > $3
               RETURNING provider, nonce, code_verifier, redirect_to""",
            credentials.digest(state),
            provider,
            self.clock.now(),
        )
        return LoginState(**dict(row)) if row else None

    # ------------------------------------------------------------------ personal secrets

    def _keys(self) -> Keyring:
        if self.keyring is None:
            raise errors.BadRequestField("value", "secrets need WWS_API_SECRET_KEYS to be configured on the server")
        return self.keyring

    async def set_secret(
        self, user_id: str, name: str, value: str, inject: i.SecretInject, target: str, actor: Actor
    ) -> None:
        keyring = self._keys()

        async def store(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await secrets.put(conn, keyring, f"user:{user_id}", name, value)

        await self.identity.run_user(user_id, i.SetSecret(name=name, inject=inject, target=target), actor, extra=store)

    async def delete_secret(self, user_id: str, name: str, actor: Actor) -> None:
        async def drop(conn: Conn, _: aggregates.Executed[Any]) -> None:
            await conn.execute("DELETE FROM wws_secrets WHERE scope = $1 AND name = $2", f"user:{user_id}", name)

        await self.identity.run_user(user_id, i.DeleteSecret(name=name), actor, extra=drop)

    async def list_secrets(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT name, inject, target, updated_at FROM id_user_secrets WHERE user_id = $1 ORDER BY name", user_id
        )
        return [dict(r) for r in rows]

    async def injected(self, db: Executor, user_id: str) -> list[InjectedSecret]:
        """The owner's secrets for a workspace start (values decrypted, in memory only)."""
        if self.keyring is None:
            return []
        out = []
        for r in await db.fetch(
            "SELECT name, inject, target FROM id_user_secrets WHERE user_id = $1 ORDER BY name", user_id
        ):
            value = await secrets.get(db, self.keyring, f"user:{user_id}", r["name"])
            if value is not None:
                out.append(InjectedSecret(name=r["name"], inject=r["inject"], target=r["target"], value=value))
        return out


def new_user_id() -> str:
    return str(uuid.uuid4())


__all__ = ["USERS", "Accounts", "Authenticated", "LoginState", "NewSession", "NewToken", "new_user_id"]
