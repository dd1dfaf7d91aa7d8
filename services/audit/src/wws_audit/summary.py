"""One human sentence per event for the audit view (the full payload is kept beside it)."""

from __future__ import annotations

from typing import assert_never

from wws_events import Envelope, RawEnvelope
from wws_events import host as h
from wws_events import identity as i
from wws_events import org as o
from wws_events import template as t
from wws_events import workspace as w


def _limits(d: o.OrgQuotaSet) -> str:
    parts = [f"{f}={getattr(d.limits, f):g}" for f in d.limits.__struct_fields__ if getattr(d.limits, f) is not None]
    return ", ".join(parts) or "unlimited"


def summarize(env: Envelope | RawEnvelope) -> str:
    if isinstance(env, RawEnvelope):
        return f"{env.type} (schema v{env.schema_version}, not known to this build)"
    d = env.data
    where = f" on {env.host_id}" if env.host_id else ""
    match d:
        case w.WorkspaceCreated():
            r = d.spec.resources
            return (
                f"created workspace {d.name!r} from {d.spec.image} ({r.cpu:g} CPU, {r.memory_mb} MiB, {r.disk_gb} GiB)"
            )
        case w.WorkspaceScheduled():
            return f"placed on host {d.host_id} ({d.reason})"
        case w.WorkspaceStopRequested():
            return "stop requested" + (f": {d.reason}" if d.reason else "")
        case w.WorkspaceRebuildRequested():
            return f"rebuild requested (generation {d.generation}, image {d.spec.image})"
        case w.WorkspaceStartRequested() | w.WorkspaceRestartRequested() | w.WorkspaceDeleteRequested():
            return env.type.removeprefix("workspace.").replace("_", " ")
        case w.WorkspaceOperationTimedOut():
            return f"{d.operation} timed out: {d.error.message}"
        case w.WorkspaceOperationStarted():
            return f"{d.operation} started{where}"
        case w.WorkspaceRestartStopped():
            return f"restart: stopped{where}"
        case w.WorkspaceCommandRejected():
            return f"order rejected{where}: {d.error.code}: {d.error.message}"
        case w.WorkspaceObserved():
            return f"host{where} observed the container {d.runtime_status}"
        case w.WorkspaceActivityRecorded():
            return f"activity ({d.source})"
        case h.HostRegistered():
            return f"host {d.host_id} registered (agent {d.agent_version}, {d.capacity.cpus:g} CPU, {d.capacity.memory_mb} MiB)"
        case h.HostLost():
            return f"host {d.host_id} lost (no heartbeat)"
        case h.HostOrphanRemoved():
            return f"removed orphan {d.resource} {d.name}: {d.reason}"
        case h.HostReconciled():
            return f"reconciled: {len(d.adopted)} adopted, {len(d.removed)} removed" + (
                "" if d.desired_known else " (desired state unknown)"
            )
        case w.WorkspaceInitStepStarted():
            return f"init: {d.step} {d.name} started"
        case w.WorkspaceInitStepSucceeded():
            return f"init: {d.step} {d.name} done in {d.duration_ms} ms" + (f" ({d.detail})" if d.detail else "")
        case w.WorkspaceInitStepFailed():
            code = f" (exit {d.exit_code})" if d.exit_code is not None else ""
            return f"init: {d.step} {d.name} failed{code}: {d.message}"
        case w.WorkspaceInitFinished():
            return f"init finished in {d.duration_ms} ms" + (
                f", degraded: {', '.join(d.failed_steps)}" if d.degraded else ""
            )
        case w.WorkspaceDevcontainerApplied():
            extra = f"; not supported: {', '.join(d.unsupported)}" if d.unsupported else ""
            return f"devcontainer {d.source} applied" + (f" (image {d.image})" if d.image else "") + extra
        case w.WorkspaceDevcontainerInvalid():
            where = f" at line {d.line}, column {d.column}" if d.line else ""
            return f"devcontainer {d.source} not usable{where}: {d.message}"
        case t.TemplateCreated():
            return f"template {d.name!r} created (version {d.version})"
        case t.TemplateUpdated():
            return f"template updated to version {d.version}"
        case t.TemplateDeleted():
            return "template deleted"
        case w.WorkspaceAccessGranted():
            return f"granted {d.level} access to {d.subject}"
        case w.WorkspaceAccessRevoked():
            return f"revoked the access of {d.subject}"
        case w.WorkspacePortShared():
            return f"port {d.port} shared ({d.level}) until {d.expires_at.isoformat()}"
        case w.WorkspacePortShareExtended():
            return f"share {d.share_id} extended until {d.expires_at.isoformat()}"
        case w.WorkspacePortUnshared():
            return f"share {d.share_id} {'expired' if d.reason == 'expired' else 'revoked'}"
        case w.WorkspaceIdleWarning():
            return f"idle since {d.idle_since.isoformat()} (last: {d.last_signal}); stops at {d.stop_at.isoformat()}"
        case i.UserCreated():
            return f"user {d.login!r} created" + (" (instance admin)" if d.instance_admin else "")
        case i.UserIdentityLinked():
            return f"{d.provider} identity {d.login or d.email or d.subject} linked"
        case i.UserProfileUpdated():
            return "profile updated"
        case i.UserSuspended():
            return "user suspended" + (f": {d.reason}" if d.reason else "")
        case i.UserReactivated():
            return "user reactivated"
        case i.UserLoggedIn():
            return f"logged in with {d.provider} (session {d.session_id})"
        case i.UserLoggedOut():
            return f"logged out (session {d.session_id})"
        case i.UserTokenCreated():
            until = d.expires_at.isoformat() if d.expires_at else "no expiry"
            return f"API token {d.name!r} created ({', '.join(d.scopes)}; {until})"
        case i.UserTokenRevoked():
            return f"API token {d.token_id} revoked"
        case i.UserSecretSet():
            return f"secret {d.name!r} set (as {d.inject} {d.target})"
        case i.UserSecretDeleted():
            return f"secret {d.name!r} deleted"
        case i.AccessDenied():
            target = f"{d.resource_type} {d.resource_id}" if d.resource_id else d.resource_type
            return f"denied {d.action} on {target}" + (f": {d.why}" if d.why else "")
        case o.OrgCreated():
            return f"organization {d.name!r} created"
        case o.OrgMemberAdded():
            return f"{d.user_id} joined as {d.role}" + (" (invitation)" if d.invitation_id else "")
        case o.OrgMemberRoleChanged():
            return f"{d.user_id} is now {d.role}"
        case o.OrgMemberRemoved():
            return f"{d.user_id} removed"
        case o.OrgTeamCreated():
            return f"team {d.name!r} created" + (f" (IdP group {d.idp_group})" if d.idp_group else "")
        case o.OrgTeamDeleted():
            return f"team {d.team_id} deleted"
        case o.OrgTeamMemberAdded():
            return f"{d.user_id} added to team {d.team_id}"
        case o.OrgTeamMemberRemoved():
            return f"{d.user_id} removed from team {d.team_id}"
        case o.OrgInvitationCreated():
            return f"invited {d.email or d.github_login} as {d.role} until {d.expires_at.isoformat()}"
        case o.OrgInvitationAccepted():
            return f"invitation {d.invitation_id} accepted by {d.user_id}"
        case o.OrgInvitationDeclined():
            return f"invitation {d.invitation_id} declined by {d.user_id}"
        case o.OrgInvitationRevoked():
            return f"invitation {d.invitation_id} revoked"
        case o.OrgQuotaSet():
            who = f"user {d.user_id}" if d.user_id else d.scope.replace("_", " ")
            return f"quota for {who}: {_limits(d)}"
        case w.Failed():
            return f"{env.type.removeprefix('workspace.').removesuffix('_failed')} failed{where}: {d.error.code}: {d.error.message}"
        case w.Succeeded():
            return f"{env.type.removeprefix('workspace.').removesuffix('_succeeded')} succeeded{where}"
        case _:
            assert_never(d)
