"""API settings (env ``WWS_API_<FIELD>``, shared ``WWS_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wws_service.settings import CommonSettings, Secret


class ApiSettings(CommonSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str
    """PostgreSQL DSN (asyncpg form)."""
    admin_token: Secret
    """Bearer token that authenticates as the built-in admin (bootstrap identity)."""
    http_host: str = "127.0.0.1"
    """Address the HTTP server binds."""
    http_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    """Port the HTTP server binds (0 = any free port)."""
    public_url: str = ""
    """Base URL clients use (for links); empty means http://<http_host>:<http_port>."""
    org_id: str = "default"
    """Organization of every workspace (one organization until multi-tenant identity is configured)."""
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
    """GitHub API base URL for creating repositories (set it for GitHub Enterprise)."""
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
