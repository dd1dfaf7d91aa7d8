"""One sample of every event and command type, with fixed ids and times, for the golden
files that pin the wire format. ``python -m tests.golden.regenerate`` rewrites the files."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from wws_events import Actor, CommandEnvelope, Envelope, new_envelope, tag_of
from wws_events import commands as c
from wws_events import host as h
from wws_events import identity as i
from wws_events import org as o
from wws_events import template as t
from wws_events import workspace as w
from wws_events.events import AnyEvent
from wws_events.quota import Limits

WS = uuid.UUID("11111111-1111-4111-8111-111111111111")
CMD = uuid.UUID("22222222-2222-4222-8222-222222222222")
EVT = uuid.UUID("33333333-3333-4333-8333-333333333333")
CORR = uuid.UUID("44444444-4444-4444-8444-444444444444")
AT = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
USER = Actor(type="user", id="alice", ip="192.0.2.10", display="Alice")
AGENT = Actor(type="service", id="agent:host-a", display="wws-provisioner 0.1.0")
SPEC = w.WorkspaceSpec(
    image="localhost/wws-dev:go-python",
    template="python-go",
    template_id="55555555-5555-4555-8555-555555555555",
    template_version=3,
    resources=w.Resources(cpu=2.0, memory_mb=4096, disk_gb=20, pids=4096),
    languages=["go", "python"],
    ide=True,
    network="egress",
    env={"EDITOR": "vim"},
    repository=w.Repository(
        url="https://git.example.com/acme/api.git", branch="main", credential="workspace-git-token"
    ),
    dotfiles=w.Dotfiles(url="https://git.example.com/alice/dotfiles.git"),
    bootstrap=[w.Script(source="template", script="make deps"), w.Script(source="workspace", script="echo hi")],
    ports=[8000],
    idle_timeout_s=7200,
)
TSPEC = t.TemplateSpec(
    description="Python + Go", languages=["go", "python"], bootstrap="make deps", env={"EDITOR": "vim"}, ports=[8000]
)
TPL = uuid.UUID("55555555-5555-4555-8555-555555555555")
ERR = w.ErrorInfo(code="image_not_found", message="image 'x' is not available on this host", retryable=False)
CAP = h.HostCapacity(cpus=2.0, memory_mb=24000, disk_gb=250)

LIMITS = Limits(max_workspaces=10, max_running=3, cpu=8, memory_mb=16384, disk_gb=200, workspace_cpu=4)
UNTIL = AT.replace(year=AT.year + 1)

EVENTS: list[AnyEvent] = [
    w.WorkspaceCreated(workspace_id=WS, name="ticket-123", owner_id="alice", spec=SPEC, requested_host=None),
    w.WorkspaceScheduled(command_id=CMD, host_id="host-a", reason="most free memory (20000 MiB left after placement)"),
    w.WorkspaceStartRequested(command_id=CMD),
    w.WorkspaceStopRequested(command_id=CMD, reason="idle for 6h00m"),
    w.WorkspaceRestartRequested(command_id=CMD),
    w.WorkspaceRebuildRequested(command_id=CMD, generation=2, spec=SPEC),
    w.WorkspaceDeleteRequested(command_id=CMD),
    w.WorkspaceOperationTimedOut(
        command_id=CMD,
        operation="start",
        error=w.ErrorInfo(code="host_timeout", message="host host-a did not finish start within 180s", retryable=True),
    ),
    w.WorkspaceOperationStarted(command_id=CMD, operation="provision"),
    w.WorkspaceRestartStopped(command_id=CMD),
    w.WorkspaceProvisionSucceeded(
        command_id=CMD, generation=1, container_id="abc123", image="localhost/wws-dc-1a2b3c", ide_port=20001
    ),
    w.WorkspaceProvisionFailed(command_id=CMD, error=ERR),
    w.WorkspaceStartSucceeded(command_id=CMD, generation=1, container_id="abc123"),
    w.WorkspaceStartFailed(command_id=CMD, error=ERR),
    w.WorkspaceStopSucceeded(command_id=CMD, generation=None, container_id="abc123"),
    w.WorkspaceStopFailed(command_id=CMD, error=ERR),
    w.WorkspaceRestartSucceeded(command_id=CMD, generation=1, container_id="abc123"),
    w.WorkspaceRestartFailed(command_id=CMD, error=ERR),
    w.WorkspaceRebuildSucceeded(command_id=CMD, generation=2, container_id="def456"),
    w.WorkspaceRebuildFailed(command_id=CMD, error=ERR),
    w.WorkspaceDeleteSucceeded(command_id=CMD, generation=None, container_id=None),
    w.WorkspaceDeleteFailed(command_id=CMD, error=ERR),
    w.WorkspaceCommandRejected(
        command_id=CMD, error=w.ErrorInfo(code="stale", message="order at version 3 is older than applied 5")
    ),
    w.WorkspaceObserved(container_id="abc123", runtime_status="exited", generation=1),
    w.WorkspaceActivityRecorded(workspace_id=WS, source="api"),
    w.WorkspaceInitStepStarted(run_id=CMD, step="repository", name="clone"),
    w.WorkspaceInitStepSucceeded(
        run_id=CMD, step="repository", name="clone", duration_ms=812, detail="cloned into ~/src/api"
    ),
    w.WorkspaceInitStepFailed(
        run_id=CMD,
        step="bootstrap",
        name="workspace",
        duration_ms=20,
        exit_code=3,
        message="exited with 3",
        output_tail=["make: *** [deps] Error 3"],
    ),
    w.WorkspaceInitFinished(run_id=CMD, duration_ms=4200, degraded=True, failed_steps=["bootstrap:workspace"]),
    w.WorkspaceDevcontainerApplied(
        run_id=CMD,
        source=".devcontainer/devcontainer.json",
        image="localhost/wws-dc-1a2b3c",
        unsupported=["features"],
        warnings=[],
    ),
    w.WorkspaceDevcontainerInvalid(
        run_id=CMD, source=".devcontainer/devcontainer.json", message="expected ',' or '}'", line=7, column=3
    ),
    t.TemplateCreated(template_id=TPL, name="python-go", version=1, spec=TSPEC),
    t.TemplateUpdated(template_id=TPL, version=2, spec=TSPEC),
    t.TemplateDeleted(template_id=TPL),
    h.HostRegistered(host_id="host-a", agent_version="0.1.0", runtime="podman", capacity=CAP, address=None),
    h.HostLost(host_id="host-a", last_seen=AT),
    h.HostOrphanRemoved(
        host_id="host-a",
        workspace_id=WS,
        resource="container",
        name=f"wws-{WS}",
        reason="no desired state wants this workspace on this host",
    ),
    h.HostReconciled(host_id="host-a", adopted=[WS], removed=[], desired_known=True),
    w.WorkspaceAccessGranted(subject="team:t-platform", level="use"),
    w.WorkspaceAccessRevoked(subject="team:t-platform"),
    w.WorkspacePortShared(share_id="sh-4f1c", port=3000, level="org", expires_at=UNTIL),
    w.WorkspacePortShareExtended(share_id="sh-4f1c", expires_at=UNTIL),
    w.WorkspacePortUnshared(share_id="sh-4f1c", reason="expired"),
    w.WorkspaceIdleWarning(idle_since=AT, stop_at=UNTIL, last_signal="activity:terminal"),
    i.UserCreated(user_id="u-alice", login="alice", name="Alice", email="alice@example.com", instance_admin=False),
    i.UserIdentityLinked(
        provider="github", subject="583231", login="alice", email="alice@example.com", email_verified=True
    ),
    i.UserProfileUpdated(name="Alice A.", email="alice@example.com"),
    i.UserSuspended(reason="left the company"),
    i.UserReactivated(),
    i.UserLoggedIn(provider="oidc", session_id="s-1f2e", expires_at=UNTIL),
    i.UserLoggedOut(session_id="s-1f2e"),
    i.UserTokenCreated(token_id="tk-9a8b", name="ci", scopes=["workspaces:read", "workspaces:write"], expires_at=UNTIL),
    i.UserTokenRevoked(token_id="tk-9a8b"),
    i.UserSecretSet(name="openai", inject="env", target="OPENAI_API_KEY"),
    i.UserSecretDeleted(name="openai"),
    i.AccessDenied(
        action="workspace.stop",
        resource_type="workspace",
        resource_id=str(WS),
        resource_org="acme",
        method="POST",
        path=f"/api/v1/workspaces/{WS}/stop",
        why="role member may not stop another member's workspace",
    ),
    o.OrgCreated(org_id="acme", name="acme", display_name="ACME Corp"),
    o.OrgMemberAdded(user_id="u-alice", role="member", invitation_id="inv-1"),
    o.OrgMemberRoleChanged(user_id="u-alice", role="admin"),
    o.OrgMemberRemoved(user_id="u-alice"),
    o.OrgTeamCreated(team_id="t-platform", name="platform", idp_group="platform-eng"),
    o.OrgTeamDeleted(team_id="t-platform"),
    o.OrgTeamMemberAdded(team_id="t-platform", user_id="u-alice"),
    o.OrgTeamMemberRemoved(team_id="t-platform", user_id="u-alice"),
    o.OrgInvitationCreated(
        invitation_id="inv-1",
        email="bob@example.com",
        github_login=None,
        role="member",
        teams=["t-platform"],
        expires_at=UNTIL,
    ),
    o.OrgInvitationAccepted(invitation_id="inv-1", user_id="u-bob"),
    o.OrgInvitationDeclined(invitation_id="inv-1", user_id="u-bob"),
    o.OrgInvitationRevoked(invitation_id="inv-1"),
    o.OrgQuotaSet(scope="default_user", user_id=None, limits=LIMITS),
]

ORDERS: list[c.AgentCommand] = [
    c.AgentProvision(name="ticket-123", owner_id="alice", generation=1, spec=SPEC),
    c.AgentStart(name="ticket-123", owner_id="alice", generation=1, spec=SPEC),
    c.AgentStop(timeout_s=10.0),
    c.AgentRestart(name="ticket-123", owner_id="alice", generation=1, spec=SPEC, timeout_s=10.0),
    c.AgentRebuild(name="ticket-123", owner_id="alice", generation=2, spec=SPEC),
    c.AgentDelete(timeout_s=10.0),
]


def event_envelope(data: AnyEvent) -> Envelope:
    host = isinstance(data, (h.HostRegistered, h.HostLost, h.HostOrphanRemoved, h.HostReconciled))
    template = isinstance(data, (t.TemplateCreated, t.TemplateUpdated, t.TemplateDeleted))
    org_id = "acme"
    if host:
        stream = "host-host-a"
    elif template:
        stream = f"template-{TPL}"
    elif type(data).STREAM_TYPE == "user":
        stream, org_id = "user-u-alice", i.INSTANCE
    elif type(data).STREAM_TYPE == "org":
        stream = "org-acme"
    elif isinstance(data, i.AccessDenied):
        stream = "access-u-alice"
    elif isinstance(data, w.WorkspaceActivityRecorded):
        stream = f"activity-{WS}"
    else:
        stream = str(WS)
    by_agent = host or type(data).__name__.endswith(
        ("Succeeded", "Failed", "Started", "Stopped", "Rejected", "Observed")
    )
    return new_envelope(
        data,
        event_id=EVT,
        stream_id=stream,
        stream_version=7,
        occurred_at=AT,
        org_id=org_id,
        actor=AGENT if by_agent else USER,
        correlation_id=CORR,
        causation_id=CMD,
        host_id="host-a" if by_agent else None,
        reason=getattr(getattr(data, "error", None), "message", None),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


def order_envelope(order: c.AgentCommand) -> CommandEnvelope:
    return CommandEnvelope(
        command_id=CMD,
        type=tag_of(type(order)),
        schema_version=type(order).SCHEMA_VERSION,
        workspace_id=WS,
        host_id="host-a",
        seq=5,
        org_id="acme",
        actor=USER,
        correlation_id=CORR,
        causation_id=EVT,
        issued_at=AT,
        deadline=AT.replace(minute=15),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        data=order,
    )
