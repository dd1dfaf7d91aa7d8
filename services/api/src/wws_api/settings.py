"""API settings (env ``WWS_API_<FIELD>``, shared ``WWS_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from wws_service.settings import CommonSettings, Secret


class ApiSettings(CommonSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str
    """PostgreSQL DSN (asyncpg form)."""
    admin_token: Secret | None = None
    """Bootstrap token: authenticates as the first owner (``admin``). Leave unset to disable
    it once real logins and API tokens are in place."""
    http_host: str = "127.0.0.1"
    """Address the HTTP server binds."""
    http_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    """Port the HTTP server binds (0 = any free port)."""
    public_url: str = ""
    """Base URL clients use (for links); empty means http://<http_host>:<http_port>."""
    org_id: str = "default"
    """The first organization (created at first start) and the one system actors act in."""
    org_creation: Literal["admins", "anyone"] = "admins"
    """Who may create organizations: instance admins only, or every user."""
    session_ttl_s: Annotated[float, msgspec.Meta(gt=0)] = 12 * 3600.0
    """Lifetime of a browser session."""
    wildcard_domain: str = ""
    """Also reach workspace apps by subdomain: ``ide--<workspace id>.<domain>`` and
    ``<port>--<workspace id>.<domain>`` (needs a wildcard DNS record and certificate, and
    ``cookie_domain`` set to ``<domain>``'s parent so the session reaches them). Empty: path-based only."""
    cookie_domain: str = ""
    """Domain attribute of the session cookie (empty: the API's host only)."""
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    """Mark the session cookie Secure (auto: when the public URL is https)."""
    token_max_ttl_s: Annotated[int, msgspec.Meta(gt=0)] = 366 * 86400
    """Longest lifetime of an API token (tokens always expire)."""
    invitation_ttl_s: Annotated[int, msgspec.Meta(gt=0)] = 7 * 86400
    """Default lifetime of an invitation (at most 30 days may be asked for)."""
    rate_lifecycle_per_min: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """Per user: lifecycle operations (create/start/stop/restart/rebuild/delete) refilled per minute."""
    rate_lifecycle_burst: Annotated[int, msgspec.Meta(ge=1)] = 30
    """Per user: lifecycle operations allowed at once before 429."""
    share_max_ttl_s: Annotated[int, msgspec.Meta(gt=0)] = 7 * 86400
    """Longest lifetime of a shared port."""
    share_default_ttl_s: Annotated[int, msgspec.Meta(gt=0)] = 8 * 3600
    """Lifetime of a shared port when the request gives none."""
    github_client_id: str = ""
    """GitHub OAuth app client id (empty: GitHub login off)."""
    github_client_secret: Secret | None = None
    """GitHub OAuth app client secret."""
    github_url: str = "https://github.com"
    """GitHub (Enterprise) web URL for the OAuth endpoints."""
    oidc_issuer: str = ""
    """OpenID Connect issuer URL (discovery at /.well-known/openid-configuration; empty: off)."""
    oidc_client_id: str = ""
    """OpenID Connect client id."""
    oidc_client_secret: Secret | None = None
    """OpenID Connect client secret."""
    oidc_scopes: str = "openid profile email groups"
    """Scopes asked for at the identity provider."""
    oidc_groups_claim: str = "groups"
    """ID-token claim with the user's groups (mapped to teams whose idp_group matches)."""
    oidc_default_org: str = ""
    """Organization (id or name) every OIDC user joins as member at first login (empty: none)."""
    trusted_proxies: str = ""
    """Comma-separated proxy addresses whose X-Forwarded-For is believed for the actor's IP."""
    default_image: str = "localhost/wws-base:bookworm"
    """Image used when a create request names neither image nor template."""
    default_cpu: float = 1.0
    """CPU cores when a create request gives none."""
    default_memory_mb: int = 2048
    """Memory (MiB) when a create request gives none."""
    default_disk_gb: int = 10
    """Persistent home size (GiB) when a create request gives none."""
    max_cpu: float = 16.0
    """Largest CPU request accepted per workspace."""
    max_memory_mb: int = 65536
    """Largest memory request (MiB) accepted per workspace."""
    min_memory_mb: int = 128
    """Smallest memory request (MiB) accepted per workspace."""
    max_disk_gb: int = 500
    """Largest disk request (GiB) accepted per workspace."""
    cpu_overcommit: float = 4.0
    """Scheduler: CPU cores handed out per physical core."""
    memory_overcommit: float = 1.0
    """Scheduler: memory handed out per byte of host memory."""
    provision_timeout_s: float = 900.0
    """How long a host may take to provision/rebuild before the operation is failed."""
    operation_timeout_s: float = 180.0
    """How long a host may take to start/stop/restart/delete before the operation is failed."""
    wait_timeout_max_s: float = 600.0
    """Upper bound of ``?wait_timeout=`` on writes."""
    host_ttl_s: float = 15.0
    """A host whose heartbeat is older than this is not live (and is reported lost)."""
    activity_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """Activity is recorded at most once per this many seconds per workspace (the log stays small)."""
    secret_keys: Secret | None = None
    """Key-encryption keys for stored secrets: ``kid:base64(32 bytes)[,kid:...]``; the first
    wraps new secrets, the others still decrypt (rotation). Required to accept tokens."""
    github_api_url: str = "https://api.github.com"
    """GitHub API base URL (repository creation, login user lookups); GHE: https://<host>/api/v3."""
    min_idle_timeout_s: int = 300
    """Smallest idle timeout a template or workspace may ask for."""
    max_idle_timeout_s: int = 7 * 24 * 3600
    """Largest idle timeout a template or workspace may ask for."""
    read_your_writes_s: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    """A write answers once the read model shows it (so a GET or list right after agrees),
    waiting at most this long; 0 answers at commit."""
    run_workers: bool = True
    """Run the relay, recorder, projections, scheduler and supervisor in this process."""
    relay_batch: int = 100
    """Outbox rows published per relay transaction."""
    recorder_batch: int = 100
    """Agent events appended per recorder transaction."""
