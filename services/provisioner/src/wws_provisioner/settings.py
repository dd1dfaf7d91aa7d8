"""Agent settings (env ``WWS_PROVISIONER_<FIELD>``). Deliberately no database settings:
the agent speaks only NATS."""

from __future__ import annotations

import re
import socket
from typing import Annotated

import msgspec

from wws_service.settings import CommonSettings


def default_host_id() -> str:
    """This machine's hostname, folded into a valid subject token."""
    name = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower()).strip("-_") or "host"
    return name[:63]


class ProvisionerSettings(CommonSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = msgspec.field(
        default_factory=default_host_id
    )
    """This host's id: one NATS subject token (default: the hostname)."""
    podman_url: str = "unix:///run/podman/podman.sock"
    """Podman REST API socket."""
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    """Orders carried out at the same time (one at a time per workspace)."""
    ack_wait_s: Annotated[float, msgspec.Meta(ge=1)] = 30.0
    """JetStream redelivers an order not acknowledged within this time; long work sends
    in-progress every third of it."""
    max_deliver: Annotated[int, msgspec.Meta(ge=1)] = 20
    """Deliveries of one order before JetStream gives up on it."""
    heartbeat_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """Seconds between heartbeats in KV."""
    host_ttl_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """Lifetime of a heartbeat entry (bucket TTL)."""
    reconcile_interval_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """Seconds between reconciles after the start-up one (0 = only at start)."""
    orphan_grace_s: Annotated[float, msgspec.Meta(ge=0)] = 120.0
    """A container or volume younger than this is never removed as an orphan."""
    runtime_dir: str = "/run/wws/workspaces"
    """Per-workspace host directories (init config, secret files, init reports); put it on
    a tmpfs so secrets never reach a disk."""
    publish_ide_port: bool = False
    """Also publish each workspace's code-server on a host loopback port from ``ide_ports``
    (debugging only: every local user of the host can reach it then; the normal way in is
    the API's authenticated IDE proxy, which needs no published port)."""
    ide_ports: Annotated[str, msgspec.Meta(pattern=r"^\d{1,5}-\d{1,5}$")] = "20000-20999"
    """Host loopback ports handed to workspace IDEs when ``publish_ide_port`` is on (each
    workspace keeps its own)."""
    allow_host_loopback: bool = False
    """Let ``egress`` workspaces reach this host's loopback as ``host.wws.internal`` (for a
    git server on the host; it also exposes every other loopback service to workspaces)."""
    build_images: bool = True
    """Build a missing WWS image (``localhost/wws-base``/``-ide``/``-dev:<languages>``) on
    this host when a workspace needs it (needs the source tree's ``images/``)."""
    init_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    """How long a create waits for the workspace's repository and devcontainer.json."""
    cpus: float = 0.0
    """Capacity announced to the scheduler (0 = detect)."""
    memory_mb: int = 0
    """Capacity announced to the scheduler (0 = detect)."""
    disk_gb: int = 0
    """Capacity announced to the scheduler (0 = detect from Podman's storage)."""
    pool_org: str = ""
    """Run only this organization's workspaces (its id); empty: a host shared by every organization."""
    gateway_listen: str = "127.0.0.1:7443"
    """Where this host's access gateway listens (``host:port``; empty: no gateway). Only
    requests carrying a token the API signed get through."""
    address: str = ""
    """The gateway's URL as the API reaches it, announced in the heartbeat (empty: derived
    from ``gateway_listen``, ``http://<gateway_listen>``)."""
    max_upload_mb: Annotated[int, msgspec.Meta(ge=1)] = 1024
    """Largest file upload into a workspace (bigger: 413)."""
    terminal_grace_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    """A terminal whose client went away keeps its shell this long for a reconnect."""
    terminal_buffer_kb: Annotated[int, msgspec.Meta(ge=4)] = 256
    """Output kept per terminal to replay to a reconnecting client."""
    terminal_max_sessions: Annotated[int, msgspec.Meta(ge=1)] = 16
    """Terminals per workspace at the same time."""
    exec_max_output_kb: Annotated[int, msgspec.Meta(ge=1)] = 1024
    """stdout and stderr kept each by a non-streamed exec (the rest is cut, flagged truncated)."""
    exec_max_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    """Longest timeout an exec may ask for."""
    metrics_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds between resource samples of each running workspace."""
    metrics_history: Annotated[int, msgspec.Meta(ge=1)] = 360
    """Samples kept per workspace (360 samples 10 s apart: the last hour)."""
    activity_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """At most one activity event per workspace per this many seconds."""
    activity_cpu_threshold: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    """A process using more than this share of one CPU (between two looks) is someone's work
    (a build, a test run): it keeps the workspace alive. 0 = CPU does not count."""
    activity_cpu_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """Seconds between two looks at the workspaces' processes."""
    activity_cpu_ignore: str = r"code-server,wws[-_]init"
    """Comma-separated regular expressions matched (search) against a process's command
    line; matching processes never count as work (the IDE's own helpers, WWS's init)."""

    def gateway_url(self) -> str | None:
        """The gateway's URL announced to the API (None: no gateway on this host)."""
        if self.address:
            return self.address
        return f"http://{self.gateway_listen}" if self.gateway_listen else None
