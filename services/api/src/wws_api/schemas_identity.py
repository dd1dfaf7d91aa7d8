"""HTTP bodies and views of identity and tenancy (requests refuse unknown fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from wws_events.org import Role

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")]
Scope = Annotated[str, msgspec.Meta(pattern=r"^[a-z]+(:[a-z]+)?$", max_length=40)]
EnvName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
SecretName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")]
GitHubLogin = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
Count = Annotated[int, msgspec.Meta(ge=0)]


class TokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)] = msgspec.field(default_factory=lambda: ["all"])
    expires_in_s: Annotated[int, msgspec.Meta(gt=0)] = 30 * 86400
    """Lifetime (tokens always expire; at most WWS_API_TOKEN_MAX_TTL_S)."""


class TokenView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class TokenCreated(msgspec.Struct, kw_only=True):
    id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None
    token: str
    """Shown once: WWS keeps only its hash."""


class SecretPut(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    inject: Literal["env", "file"] = "env"
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    """Environment variable name (env), or a path relative to the home directory (file)."""


class SecretView(msgspec.Struct, kw_only=True):
    name: str
    inject: str
    target: str
    updated_at: datetime


class ProfilePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    email: Email | None = None


class Membership(msgspec.Struct, kw_only=True):
    org_id: str
    name: str
    role: str
    teams: list[str]


class IdentityView(msgspec.Struct, kw_only=True):
    provider: str
    login: str | None
    email: str | None
    email_verified: bool


class Me(msgspec.Struct, kw_only=True):
    id: str
    login: str
    name: str
    email: str | None
    instance_admin: bool
    suspended: bool
    orgs: list[Membership]
    identities: list[IdentityView]
    current_org: str
    auth: dict[str, Any]
    """How this request authenticated (``via``, ``scopes``; ``csrf`` for a browser session)."""


class UserSummary(msgspec.Struct, kw_only=True):
    id: str
    login: str
    name: str
    email: str | None
    instance_admin: bool
    suspended: bool
    created_at: datetime


class OrgCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Slug
    display_name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class OrgView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    display_name: str
    created_at: datetime
    role: str | None
    members: int


class MemberView(msgspec.Struct, kw_only=True):
    user_id: str
    login: str
    name: str
    role: str
    teams: list[str]
    joined_at: datetime


class RoleChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: Role


class TeamCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Slug
    idp_group: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class TeamView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    idp_group: str | None
    members: list[str]


class InvitationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email | None = None
    github_login: GitHubLogin | None = None
    role: Role = "member"
    teams: list[str] = []
    expires_in_s: Annotated[int, msgspec.Meta(gt=0, le=30 * 86400)] | None = None


class InvitationView(msgspec.Struct, kw_only=True):
    id: str
    org_id: str
    org_name: str
    email: str | None
    github_login: str | None
    role: str
    teams: list[str]
    expires_at: datetime
    status: Literal["pending", "accepted", "declined", "revoked", "expired"]
    created_at: datetime


class LimitsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Upper bounds; leave a field out (or null) for no limit."""

    max_workspaces: Count | None = None
    max_running: Count | None = None
    cpu: Annotated[float, msgspec.Meta(ge=0)] | None = None
    memory_mb: Count | None = None
    disk_gb: Count | None = None
    workspace_cpu: Annotated[float, msgspec.Meta(gt=0)] | None = None
    workspace_memory_mb: Annotated[int, msgspec.Meta(gt=0)] | None = None
    workspace_disk_gb: Annotated[int, msgspec.Meta(gt=0)] | None = None


class UsageView(msgspec.Struct, kw_only=True):
    workspaces: int
    running: int
    cpu: float
    memory_mb: int
    disk_gb: int


class Budget(msgspec.Struct, kw_only=True):
    limits: dict[str, Any]
    usage: UsageView


class UsageTotals(msgspec.Struct, kw_only=True):
    """From the log: the time workspaces ran since ``since``, and that time times their CPUs."""

    since: datetime
    workspace_hours: float
    cpu_hours: float


class OrgUsage(msgspec.Struct, kw_only=True):
    org: Budget
    users: dict[str, Budget]
    totals: UsageTotals | None = None
    user_totals: dict[str, UsageTotals] = {}


class QuotasView(msgspec.Struct, kw_only=True):
    org: dict[str, Any]
    default_user: dict[str, Any]
    users: dict[str, dict[str, Any]]


class GrantBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    level: Literal["use", "manage"]


class GrantView(msgspec.Struct, kw_only=True):
    subject: str
    level: str


class Providers(msgspec.Struct, kw_only=True):
    providers: list[dict[str, str]]
    bootstrap_token: bool
