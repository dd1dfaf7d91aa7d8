"""The policy: who may do what to which resource. Pure and total: every HTTP route names
its action, the API loads the resource's attributes, and this function decides.

The model (Coder's, docs/ARCHITECTURE.md "Identity and access"):

* Organizations are the tenancy boundary. Outside your organizations nothing exists for
  you: a foreign resource answers exactly like an unknown one (404).
* Roles in an organization: owner, admin, template_admin, auditor, member.
* Workspaces add relations: the workspace's owner, and grants to users or teams at level
  ``use`` (open, connect, start) or ``manage`` (also stop, restart, rebuild, delete, share).
  Organization owners and admins manage every workspace (force-stop included) but do not
  *use* one — getting into somebody's workspace takes a grant, which is an event.
* API tokens narrow what their user may do to their scopes; sessions and the bootstrap
  token carry every scope.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from wws_events.org import Role

Action = Literal[
    # the instance
    "org.create",
    "user.list",
    "user.suspend",
    # oneself
    "self.read",
    "self.tokens",
    "self.secrets",
    "invitation.respond",
    # an organization
    "org.read",
    "org.members.manage",
    "org.teams.manage",
    "org.quota.manage",
    "org.usage.read",
    "audit.read",
    "host.read",
    "template.read",
    "template.write",
    "workspace.create",
    "workspace.list",
    # one workspace
    "workspace.read",
    "workspace.start",
    "workspace.activity",
    "workspace.use",
    "workspace.stop",
    "workspace.restart",
    "workspace.rebuild",
    "workspace.delete",
    "workspace.share",
]
ACTIONS: tuple[Action, ...] = get_args(Action)

ResourceType = Literal["instance", "self", "org", "workspace"]
Capability = Literal["read", "start", "use", "manage"]

_SCOPE: dict[Action, str] = {
    "org.create": "orgs:admin",
    "user.list": "orgs:admin",
    "user.suspend": "orgs:admin",
    "self.read": "user:read",
    "self.tokens": "user:write",
    "self.secrets": "user:write",
    "invitation.respond": "user:write",
    "org.read": "orgs:read",
    "org.members.manage": "orgs:admin",
    "org.teams.manage": "orgs:admin",
    "org.quota.manage": "orgs:admin",
    "org.usage.read": "orgs:read",
    "audit.read": "audit:read",
    "host.read": "orgs:read",
    "template.read": "templates:read",
    "template.write": "templates:write",
    "workspace.create": "workspaces:write",
    "workspace.list": "workspaces:read",
    "workspace.read": "workspaces:read",
    "workspace.start": "workspaces:write",
    "workspace.activity": "workspaces:write",
    "workspace.use": "workspaces:use",
    "workspace.stop": "workspaces:write",
    "workspace.restart": "workspaces:write",
    "workspace.rebuild": "workspaces:write",
    "workspace.delete": "workspaces:write",
    "workspace.share": "workspaces:write",
}

_ALL: frozenset[Role] = frozenset({"owner", "admin", "template_admin", "auditor", "member"})
_ADMINS: frozenset[Role] = frozenset({"owner", "admin"})
_ORG_ROLES: dict[Action, frozenset[Role]] = {
    "org.read": _ALL,
    "org.members.manage": _ADMINS,
    "org.teams.manage": _ADMINS,
    "org.quota.manage": _ADMINS,
    "org.usage.read": _ADMINS | {"auditor"},
    "audit.read": _ADMINS | {"auditor"},
    "host.read": _ADMINS | {"auditor"},
    "template.read": _ALL,
    "template.write": _ADMINS | {"template_admin"},
    "workspace.create": _ALL - {"auditor"},
    "workspace.list": _ALL,  # the list shows only what workspace.read allows
}
_NEEDS: dict[Action, Capability] = {
    "workspace.read": "read",
    "workspace.start": "start",
    "workspace.activity": "start",
    "workspace.use": "use",
    "workspace.stop": "manage",
    "workspace.restart": "manage",
    "workspace.rebuild": "manage",
    "workspace.delete": "manage",
    "workspace.share": "manage",
}


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller."""

    user_id: str
    instance_admin: bool = False
    roles: dict[str, Role] = {}
    """Organization id → role."""
    teams: dict[str, frozenset[str]] = {}
    """Organization id → team ids."""
    scopes: frozenset[str] | None = None
    """An API token's scopes; None: a browser session or the bootstrap token (all)."""
    suspended: bool = False


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    type: ResourceType
    org_id: str | None = None
    id: str | None = None
    owner_id: str | None = None
    grants: dict[str, str] = {}
    """Workspace grants: ``user:<id>`` / ``team:<id>`` → ``use`` | ``manage``."""
    open_org_creation: bool = False
    """Instance setting: every user may create organizations (else instance admins only)."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    status: Literal[200, 403, 404]
    why: str

    @property
    def hidden(self) -> bool:
        """Denied as if the resource did not exist."""
        return self.status == 404


def _allow(why: str) -> Decision:
    return Decision(allowed=True, status=200, why=why)


def _deny(why: str, *, hide: bool = False) -> Decision:
    return Decision(allowed=False, status=404 if hide else 403, why=why)


def scope_for(action: Action) -> str:
    return _SCOPE[action]


def workspace_access(subject: Subject, resource: Resource) -> frozenset[Capability]:
    """What ``subject`` may do with the workspace ``resource`` (empty: it is hidden)."""
    role = subject.roles.get(resource.org_id or "")
    if role is None:
        return frozenset()
    caps: set[Capability] = set()
    if resource.owner_id == subject.user_id:
        caps |= {"read", "start", "use", "manage"}
    if role in _ADMINS:
        caps |= {"read", "start", "manage"}
    if role == "auditor":
        caps.add("read")
    levels = {resource.grants.get(f"user:{subject.user_id}")} | {
        resource.grants.get(f"team:{t}") for t in subject.teams.get(resource.org_id or "", frozenset())
    }
    if "use" in levels or "manage" in levels:
        caps |= {"read", "start", "use"}
    if "manage" in levels:
        caps.add("manage")
    return frozenset(caps)


def _by_role(subject: Subject, action: Action, resource: Resource) -> Decision:
    if resource.type == "instance":
        if action == "org.create":
            if subject.instance_admin or resource.open_org_creation:
                return _allow("may create organizations")
            return _deny("only instance admins create organizations here")
        if action in ("user.list", "user.suspend"):
            return _allow("instance admin") if subject.instance_admin else _deny("instance admins only")
        if action == "invitation.respond":
            return _allow("anyone may answer an invitation addressed to them")
        return _deny(f"{action} is not an instance action")
    if resource.type == "self":
        if action in ("self.read", "self.tokens", "self.secrets") and resource.id == subject.user_id:
            return _allow("their own account")
        return _deny("not their account", hide=True)
    role = subject.roles.get(resource.org_id or "")
    if role is None:
        return _deny("not a member of the organization", hide=True)
    if resource.type == "org":
        allowed = _ORG_ROLES.get(action)
        if allowed is None:
            return _deny(f"{action} is not an organization action")
        if role in allowed:
            return _allow(f"role {role}")
        return _deny(f"role {role} may not {action}")
    need = _NEEDS.get(action)
    if need is None:
        return _deny(f"{action} is not a workspace action")
    caps = workspace_access(subject, resource)
    if need in caps:
        return _allow(f"{need} on the workspace (role {role})")
    if "read" not in caps:
        return _deny(f"role {role} has no access to this workspace", hide=True)
    return _deny(f"{need} on this workspace needs the owner, an admin or a grant")


def authorize(subject: Subject, action: Action, resource: Resource) -> Decision:
    """The decision for one request. Role first (so a token never reveals more than its
    user may see), then the token's scope, then the suspension."""
    decision = _by_role(subject, action, resource)
    if not decision.allowed:
        return decision
    if subject.suspended and action not in ("self.read",):
        return _deny("the account is suspended")
    if subject.scopes is not None and "all" not in subject.scopes and _SCOPE[action] not in subject.scopes:
        return _deny(f"the token lacks the scope {_SCOPE[action]}")
    return decision
