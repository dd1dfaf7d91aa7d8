"""The User aggregate (stream ``user-<id>``): who someone is, how they log in, their API
tokens and the names of their secrets. Values never appear here: a token's hash and a
secret's ciphertext live in their own tables, written in the same transaction.

Users are instance-wide (one person may belong to several organizations), so their
events carry ``org_id = INSTANCE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, assert_never

import msgspec

from wws_events._base import CommandData, EventData
from wws_events.errors import DomainError

INSTANCE = "instance"
"""``org_id`` of events that belong to no organization (users, the instance itself)."""

Provider = Literal["github", "oidc", "bootstrap"]
SecretInject = Literal["env", "file"]

SCOPES: tuple[str, ...] = (
    "all",
    "workspaces:read",
    "workspaces:write",
    "workspaces:use",
    "templates:read",
    "templates:write",
    "orgs:read",
    "orgs:admin",
    "audit:read",
    "user:read",
    "user:write",
)
"""What an API token may be limited to (``all``: whatever its user may do)."""


class _UserEvent(EventData, frozen=True, kw_only=True):
    STREAM_TYPE: ClassVar[str] = "user"


class UserCreated(_UserEvent, frozen=True, kw_only=True, tag="user.created"):
    user_id: str
    login: str
    name: str = ""
    email: str | None = None
    instance_admin: bool = False
    """May create organizations and list users; grants nothing inside an organization."""


class UserIdentityLinked(_UserEvent, frozen=True, kw_only=True, tag="user.identity_linked"):
    provider: Provider
    subject: str
    """The provider's stable id (GitHub user id, OIDC ``sub``)."""
    login: str | None = None
    email: str | None = None
    email_verified: bool = False


class UserProfileUpdated(_UserEvent, frozen=True, kw_only=True, tag="user.profile_updated"):
    name: str
    email: str | None = None


class UserSuspended(_UserEvent, frozen=True, kw_only=True, tag="user.suspended"):
    reason: str = ""


class UserReactivated(_UserEvent, frozen=True, kw_only=True, tag="user.reactivated"):
    pass


class UserLoggedIn(_UserEvent, frozen=True, kw_only=True, tag="user.logged_in"):
    provider: Provider
    session_id: str
    """The session's public id (not the cookie value)."""
    expires_at: datetime


class UserLoggedOut(_UserEvent, frozen=True, kw_only=True, tag="user.logged_out"):
    session_id: str


class UserTokenCreated(_UserEvent, frozen=True, kw_only=True, tag="user.token_created"):
    token_id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None


class UserTokenRevoked(_UserEvent, frozen=True, kw_only=True, tag="user.token_revoked"):
    token_id: str


class UserSecretSet(_UserEvent, frozen=True, kw_only=True, tag="user.secret_set"):
    """That a secret was stored or replaced — never its value."""

    name: str
    inject: SecretInject
    target: str
    """Environment variable name, or file path under the home directory."""


class UserSecretDeleted(_UserEvent, frozen=True, kw_only=True, tag="user.secret_deleted"):
    name: str


UserEvent = (
    UserCreated
    | UserIdentityLinked
    | UserProfileUpdated
    | UserSuspended
    | UserReactivated
    | UserLoggedIn
    | UserLoggedOut
    | UserTokenCreated
    | UserTokenRevoked
    | UserSecretSet
    | UserSecretDeleted
)


class AccessDenied(EventData, frozen=True, kw_only=True, tag="access.denied"):
    """A request the policy refused (outcome ``denied``), on the stream ``access-<actor>``."""

    STREAM_TYPE: ClassVar[str] = "access"
    OUTCOME: ClassVar[Literal["denied"]] = "denied"
    action: str
    resource_type: str
    resource_id: str | None = None
    resource_org: str | None = None
    method: str = ""
    path: str = ""
    why: str = ""


# ---------------------------------------------------------------- commands


class CreateUser(CommandData, frozen=True, kw_only=True, tag="user.create"):
    user_id: str
    login: str
    name: str = ""
    email: str | None = None
    instance_admin: bool = False
    identity: UserIdentityLinked | None = None


class LinkIdentity(CommandData, frozen=True, kw_only=True, tag="user.link_identity"):
    identity: UserIdentityLinked


class UpdateProfile(CommandData, frozen=True, kw_only=True, tag="user.update_profile"):
    name: str
    email: str | None = None


class SuspendUser(CommandData, frozen=True, kw_only=True, tag="user.suspend"):
    reason: str = ""


class ReactivateUser(CommandData, frozen=True, kw_only=True, tag="user.reactivate"):
    pass


class RecordLogin(CommandData, frozen=True, kw_only=True, tag="user.record_login"):
    provider: Provider
    session_id: str
    expires_at: datetime


class RecordLogout(CommandData, frozen=True, kw_only=True, tag="user.record_logout"):
    session_id: str


class CreateToken(CommandData, frozen=True, kw_only=True, tag="user.create_token"):
    token_id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None
    now: datetime


class RevokeToken(CommandData, frozen=True, kw_only=True, tag="user.revoke_token"):
    token_id: str


class SetSecret(CommandData, frozen=True, kw_only=True, tag="user.set_secret"):
    name: str
    inject: SecretInject
    target: str


class DeleteSecret(CommandData, frozen=True, kw_only=True, tag="user.delete_secret"):
    name: str


UserCommand = (
    CreateUser
    | LinkIdentity
    | UpdateProfile
    | SuspendUser
    | ReactivateUser
    | RecordLogin
    | RecordLogout
    | CreateToken
    | RevokeToken
    | SetSecret
    | DeleteSecret
)


# ---------------------------------------------------------------- state


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    scopes: list[str]
    expires_at: datetime | None
    revoked: bool = False


class SecretInfo(msgspec.Struct, frozen=True, kw_only=True):
    inject: SecretInject
    target: str


class UserState(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    login: str
    name: str
    email: str | None
    instance_admin: bool
    suspended: bool = False
    identities: dict[str, str] = {}
    """``<provider>:<subject>`` → login/email seen at link time."""
    tokens: dict[str, TokenInfo] = {}
    secrets: dict[str, SecretInfo] = {}
    stream_version: int
    created_at: datetime


class UserNotFound(DomainError):
    code = "user_not_found"

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"user {user_id} does not exist")


class UserConflict(DomainError):
    """A user command that contradicts the user's state (HTTP 409)."""

    code = "user_conflict"


class UserInvalid(DomainError):
    """A user command with an invalid value (HTTP 422); ``field`` names it."""

    code = "user_invalid"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


MAX_TOKENS = 50
MAX_SECRETS = 100


def user_stream(user_id: str) -> str:
    return f"user-{user_id}"


def decide_user(state: UserState | None, command: UserCommand) -> list[UserEvent]:
    if isinstance(command, CreateUser):
        if state is not None:
            raise UserConflict(f"user {command.user_id} exists")
        created: list[UserEvent] = [
            UserCreated(
                user_id=command.user_id,
                login=command.login,
                name=command.name,
                email=command.email,
                instance_admin=command.instance_admin,
            )
        ]
        return created + ([command.identity] if command.identity else [])
    if state is None:
        raise UserNotFound("?")
    match command:
        case LinkIdentity():
            key = f"{command.identity.provider}:{command.identity.subject}"
            return [] if key in state.identities else [command.identity]
        case UpdateProfile():
            if (command.name, command.email) == (state.name, state.email):
                return []
            return [UserProfileUpdated(name=command.name, email=command.email)]
        case SuspendUser():
            if state.suspended:
                return []
            return [UserSuspended(reason=command.reason)]
        case ReactivateUser():
            return [UserReactivated()] if state.suspended else []
        case RecordLogin():
            if state.suspended:
                raise UserConflict(f"user {state.login} is suspended")
            return [
                UserLoggedIn(provider=command.provider, session_id=command.session_id, expires_at=command.expires_at)
            ]
        case RecordLogout():
            return [UserLoggedOut(session_id=command.session_id)]
        case CreateToken():
            if state.suspended:
                raise UserConflict(f"user {state.login} is suspended")
            unknown = sorted(set(command.scopes) - set(SCOPES))
            if unknown or not command.scopes:
                raise UserInvalid("scopes", f"unknown scope {unknown[0]!r}" if unknown else "at least one scope")
            if command.expires_at is not None and command.expires_at <= command.now:
                raise UserInvalid("expires_at", "must be in the future")
            live = [
                t
                for t in state.tokens.values()
                if not t.revoked and (t.expires_at is None or t.expires_at > command.now)
            ]
            if len(live) >= MAX_TOKENS:
                raise UserConflict(f"at most {MAX_TOKENS} live tokens per user; revoke one first")
            if any(t.name == command.name for t in live):
                raise UserConflict(f"a live token named {command.name!r} exists")
            return [
                UserTokenCreated(
                    token_id=command.token_id,
                    name=command.name,
                    scopes=sorted(set(command.scopes)),
                    expires_at=command.expires_at,
                )
            ]
        case RevokeToken():
            token = state.tokens.get(command.token_id)
            if token is None:
                raise UserNotFound(f"{state.user_id}/tokens/{command.token_id}")
            return [] if token.revoked else [UserTokenRevoked(token_id=command.token_id)]
        case SetSecret():
            if command.name not in state.secrets and len(state.secrets) >= MAX_SECRETS:
                raise UserConflict(f"at most {MAX_SECRETS} secrets per user")
            clash = [
                n
                for n, s in state.secrets.items()
                if n != command.name and (s.inject, s.target) == (command.inject, command.target)
            ]
            if clash:
                raise UserConflict(f"secret {clash[0]!r} already injects as {command.inject} {command.target!r}")
            # a re-set with the same shape is still a fact: the value changed
            return [UserSecretSet(name=command.name, inject=command.inject, target=command.target)]
        case DeleteSecret():
            if command.name not in state.secrets:
                raise UserNotFound(f"{state.user_id}/secrets/{command.name}")
            return [UserSecretDeleted(name=command.name)]
        case _:
            assert_never(command)


def evolve_user(state: UserState | None, event: UserEvent, *, stream_version: int, at: datetime) -> UserState | None:
    if isinstance(event, UserCreated):
        return UserState(
            user_id=event.user_id,
            login=event.login,
            name=event.name,
            email=event.email,
            instance_admin=event.instance_admin,
            stream_version=stream_version,
            created_at=at,
        )
    if state is None:
        return None
    s = msgspec.structs.replace(state, stream_version=stream_version)
    match event:
        case UserIdentityLinked():
            key = f"{event.provider}:{event.subject}"
            return msgspec.structs.replace(s, identities={**s.identities, key: event.login or event.email or ""})
        case UserProfileUpdated():
            return msgspec.structs.replace(s, name=event.name, email=event.email)
        case UserSuspended():
            return msgspec.structs.replace(s, suspended=True)
        case UserReactivated():
            return msgspec.structs.replace(s, suspended=False)
        case UserLoggedIn() | UserLoggedOut():
            return s
        case UserTokenCreated():
            info = TokenInfo(name=event.name, scopes=event.scopes, expires_at=event.expires_at)
            return msgspec.structs.replace(s, tokens={**s.tokens, event.token_id: info})
        case UserTokenRevoked():
            old = s.tokens.get(event.token_id)
            if old is None:
                return s
            return msgspec.structs.replace(
                s, tokens={**s.tokens, event.token_id: msgspec.structs.replace(old, revoked=True)}
            )
        case UserSecretSet():
            return msgspec.structs.replace(
                s, secrets={**s.secrets, event.name: SecretInfo(inject=event.inject, target=event.target)}
            )
        case UserSecretDeleted():
            return msgspec.structs.replace(s, secrets={k: v for k, v in s.secrets.items() if k != event.name})
        case _:
            assert_never(event)
