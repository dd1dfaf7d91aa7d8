"""The policy, as a table: every action by every role by the relations that matter."""

from __future__ import annotations

import pytest

from wws_authz import ACTIONS, Resource, Subject, authorize, scope_for, workspace_access
from wws_events.identity import SCOPES
from wws_events.org import ROLES, Role

ORG = "acme"
OTHER = "globex"

# what each role may do on its own organization (the spec the code is checked against)
ORG_TABLE: dict[str, set[Role]] = {
    "org.read": set(ROLES),
    "org.members.manage": {"owner", "admin"},
    "org.teams.manage": {"owner", "admin"},
    "org.quota.manage": {"owner", "admin"},
    "org.usage.read": {"owner", "admin", "auditor"},
    "audit.read": {"owner", "admin", "auditor"},
    "host.read": {"owner", "admin", "auditor"},
    "template.read": set(ROLES),
    "template.write": {"owner", "admin", "template_admin"},
    "workspace.create": {"owner", "admin", "template_admin", "member"},
    "workspace.list": set(ROLES),
}
# on somebody else's workspace in the same organization, without a grant
FOREIGN_WORKSPACE: dict[str, set[Role]] = {
    "workspace.read": {"owner", "admin", "auditor"},
    "workspace.start": {"owner", "admin"},
    "workspace.activity": {"owner", "admin"},
    "workspace.use": set(),
    "workspace.stop": {"owner", "admin"},
    "workspace.restart": {"owner", "admin"},
    "workspace.rebuild": {"owner", "admin"},
    "workspace.delete": {"owner", "admin"},
    "workspace.share": {"owner", "admin"},
}


def who(
    role: Role | None, *, org: str = ORG, scopes: frozenset[str] | None = None, teams: frozenset[str] = frozenset()
) -> Subject:
    return Subject(user_id="me", roles={org: role} if role else {}, teams={org: teams} if teams else {}, scopes=scopes)


def ws(owner: str = "someone", grants: dict[str, str] | None = None, org: str = ORG) -> Resource:
    return Resource(type="workspace", org_id=org, id="w1", owner_id=owner, grants=grants or {})


def test_every_action_has_a_scope_and_the_scopes_exist() -> None:
    assert {scope_for(a) for a in ACTIONS} <= set(SCOPES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ORG_TABLE))
def test_org_actions_by_role(role: Role, action: str) -> None:
    d = authorize(who(role), action, Resource(type="org", org_id=ORG))  # type: ignore[arg-type]
    assert d.allowed is (role in ORG_TABLE[action]), d
    if not d.allowed:
        assert d.status == 403  # a member knows the organization exists


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(FOREIGN_WORKSPACE))
def test_workspace_actions_on_someone_elses_workspace(role: Role, action: str) -> None:
    d = authorize(who(role), action, ws())  # type: ignore[arg-type]
    assert d.allowed is (role in FOREIGN_WORKSPACE[action]), d
    if not d.allowed:
        # without even read, the workspace does not exist for them
        assert d.status == (403 if role in FOREIGN_WORKSPACE["workspace.read"] else 404)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(FOREIGN_WORKSPACE))
def test_owners_of_a_workspace_do_everything_with_it(role: Role, action: str) -> None:
    assert authorize(who(role), action, ws(owner="me")).allowed  # type: ignore[arg-type]


@pytest.mark.parametrize("action", sorted(ORG_TABLE) + sorted(FOREIGN_WORKSPACE))
def test_another_organization_does_not_exist(action: str) -> None:
    subject = who("owner", org=OTHER)
    resource = ws(org=ORG) if action in FOREIGN_WORKSPACE else Resource(type="org", org_id=ORG)
    d = authorize(subject, action, resource)  # type: ignore[arg-type]
    assert not d.allowed and d.status == 404


@pytest.mark.parametrize(
    ("grants", "teams", "caps"),
    [
        ({"user:me": "use"}, frozenset(), {"read", "start", "use"}),
        ({"user:me": "manage"}, frozenset(), {"read", "start", "use", "manage"}),
        ({"team:t1": "use"}, frozenset({"t1"}), {"read", "start", "use"}),
        ({"team:t1": "manage"}, frozenset({"t2"}), set()),
        ({"user:someone-else": "manage"}, frozenset(), set()),
    ],
)
def test_grants_to_users_and_teams(grants: dict[str, str], teams: frozenset[str], caps: set[str]) -> None:
    assert workspace_access(who("member", teams=teams), ws(grants=grants)) == caps


def test_admins_manage_but_do_not_enter_without_a_grant() -> None:
    admin = who("admin")
    assert authorize(admin, "workspace.stop", ws()).allowed
    assert not authorize(admin, "workspace.use", ws()).allowed
    assert authorize(admin, "workspace.use", ws(grants={"user:me": "use"})).allowed


@pytest.mark.parametrize(
    ("scopes", "action", "allowed"),
    [
        (frozenset({"workspaces:read"}), "workspace.read", True),
        (frozenset({"workspaces:read"}), "workspace.stop", False),
        (frozenset({"workspaces:write"}), "workspace.use", False),
        (frozenset({"all"}), "workspace.delete", True),
        (frozenset({"templates:read"}), "workspace.read", False),
    ],
)
def test_token_scopes_narrow_what_the_user_may_do(scopes: frozenset[str], action: str, allowed: bool) -> None:
    d = authorize(who("member", scopes=scopes), action, ws(owner="me"))  # type: ignore[arg-type]
    assert d.allowed is allowed
    if not allowed:
        assert d.status == 403 and "scope" in d.why


def test_a_scope_never_reveals_what_the_role_hides() -> None:
    d = authorize(who("member", scopes=frozenset({"all"})), "workspace.read", ws())
    assert d.status == 404


def test_instance_and_self_actions() -> None:
    inst = Resource(type="instance")
    assert not authorize(who("member"), "org.create", inst).allowed
    assert authorize(who("member"), "org.create", Resource(type="instance", open_org_creation=True)).allowed
    assert authorize(Subject(user_id="me", instance_admin=True), "org.create", inst).allowed
    assert not authorize(who("owner"), "user.list", inst).allowed
    assert authorize(who(None), "invitation.respond", inst).allowed
    me, other = Resource(type="self", id="me"), Resource(type="self", id="you")
    assert authorize(who(None), "self.tokens", me).allowed
    assert authorize(who(None), "self.tokens", other).status == 404


def test_suspended_users_can_only_look_at_themselves() -> None:
    s = Subject(user_id="me", roles={ORG: "owner"}, suspended=True)
    assert authorize(s, "self.read", Resource(type="self", id="me")).allowed
    assert not authorize(s, "workspace.read", ws(owner="me")).allowed
    assert not authorize(s, "org.read", Resource(type="org", org_id=ORG)).allowed
