"""Users, organizations, quotas and workspace grants: the pure rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wws_events import commands as c
from wws_events import decide, evolve, new_envelope
from wws_events import identity as i
from wws_events import org as o
from wws_events._base import Actor
from wws_events.quota import Budget, Limits, QuotaCheck, QuotaExceeded, Usage, check
from wws_events.workspace import Resources, WorkspaceSpec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RES = Resources(cpu=2, memory_mb=4096, disk_gb=20)


def fold_org(*commands: o.OrgCommand) -> o.OrgState | None:
    state: o.OrgState | None = None
    for n, cmd in enumerate(commands):
        for e in o.decide_org(state, cmd):
            state = o.evolve_org(state, e, stream_version=n + 1, at=NOW)
    return state


def fold_user(*commands: i.UserCommand) -> i.UserState | None:
    state: i.UserState | None = None
    for n, cmd in enumerate(commands):
        for e in i.decide_user(state, cmd):
            state = i.evolve_user(state, e, stream_version=n + 1, at=NOW)
    return state


ACME = o.CreateOrg(org_id="acme", name="acme", owner_id="alice")


# ---------------------------------------------------------------- organizations


def test_an_org_starts_with_its_owner_and_always_keeps_one() -> None:
    s = fold_org(ACME)
    assert s is not None and s.members == {"alice": "owner"}
    with pytest.raises(o.OrgConflict, match="at least one owner"):
        o.decide_org(s, o.RemoveMember(user_id="alice", by_owner=True))
    with pytest.raises(o.OrgConflict, match="at least one owner"):
        o.decide_org(s, o.ChangeRole(user_id="alice", role="admin", by_owner=True))
    s = fold_org(ACME, o.AddMember(user_id="bob", role="owner", by_owner=True))
    assert o.decide_org(s, o.RemoveMember(user_id="alice", by_owner=True)) == [o.OrgMemberRemoved(user_id="alice")]


@pytest.mark.parametrize(
    "command",
    [
        o.AddMember(user_id="carol", role="owner", by_owner=False),
        o.ChangeRole(user_id="bob", role="owner", by_owner=False),
        o.RemoveMember(user_id="alice", by_owner=False),
        o.ChangeRole(user_id="alice", role="member", by_owner=False),
        o.Invite(
            invitation_id="x", email="e@x", role="owner", expires_at=NOW + timedelta(days=1), now=NOW, by_owner=False
        ),
    ],
)
def test_only_owners_make_or_unmake_owners(command: o.OrgCommand) -> None:
    s = fold_org(ACME, o.AddMember(user_id="bob", role="admin", by_owner=True))
    with pytest.raises(o.OrgForbidden):
        o.decide_org(s, command)


def test_invitation_accepted_once_by_the_invitee_before_it_expires() -> None:
    invite = o.Invite(
        invitation_id="inv",
        email="Bob@Example.com",
        role="member",
        teams=["t1"],
        expires_at=NOW + timedelta(hours=1),
        now=NOW,
        by_owner=True,
    )
    s = fold_org(ACME, o.CreateTeam(team_id="t1", name="platform"), invite)
    accept = o.AcceptInvitation(
        invitation_id="inv", user_id="bob", emails=["bob@example.com"], github_logins=[], now=NOW
    )
    # someone else cannot see it, let alone take it
    with pytest.raises(o.OrgItemNotFound):
        o.decide_org(
            s, o.AcceptInvitation(invitation_id="inv", user_id="eve", emails=["eve@x"], github_logins=[], now=NOW)
        )
    late = o.AcceptInvitation(
        invitation_id="inv", user_id="bob", emails=["bob@example.com"], github_logins=[], now=NOW + timedelta(hours=2)
    )
    with pytest.raises(o.InvitationUnusable, match="expired"):
        o.decide_org(s, late)
    events = o.decide_org(s, accept)
    assert [type(e).__name__ for e in events] == ["OrgInvitationAccepted", "OrgMemberAdded", "OrgTeamMemberAdded"]
    s = fold_org(ACME, o.CreateTeam(team_id="t1", name="platform"), invite, accept)
    assert s is not None and s.members["bob"] == "member" and "bob" in s.teams["t1"].members
    with pytest.raises(o.InvitationUnusable, match="accepted"):
        o.decide_org(s, accept)


def test_github_login_invitation_and_decline() -> None:
    invite = o.Invite(
        invitation_id="inv",
        github_login="octocat",
        role="auditor",
        expires_at=NOW + timedelta(days=7),
        now=NOW,
        by_owner=True,
    )
    s = fold_org(ACME, invite)
    decline = o.DeclineInvitation(invitation_id="inv", user_id="u-oc", emails=[], github_logins=["OctoCat"])
    assert o.decide_org(s, decline) == [o.OrgInvitationDeclined(invitation_id="inv", user_id="u-oc")]
    s = fold_org(ACME, invite, decline)
    assert s is not None and s.invitations["inv"].status == "declined" and "u-oc" not in s.members


def test_removing_a_member_clears_teams_and_quota() -> None:
    s = fold_org(
        ACME,
        o.AddMember(user_id="bob", role="member", by_owner=True),
        o.CreateTeam(team_id="t1", name="platform"),
        o.AddTeamMember(team_id="t1", user_id="bob"),
        o.SetQuota(scope="user", user_id="bob", limits=Limits(max_running=1)),
        o.RemoveMember(user_id="bob", by_owner=True),
    )
    assert s is not None and "bob" not in s.members and not s.teams["t1"].members and "bob" not in s.quota_users
    assert s.user_limits("bob") == s.quota_default_user


def test_team_sync_follows_identity_provider_groups() -> None:
    s = fold_org(
        ACME,
        o.AddMember(user_id="bob", role="member", by_owner=True),
        o.CreateTeam(team_id="t1", name="platform", idp_group="platform-eng"),
        o.CreateTeam(team_id="t2", name="data", idp_group="data-eng"),
        o.CreateTeam(team_id="t3", name="manual"),
        o.AddTeamMember(team_id="t2", user_id="bob"),
        o.AddTeamMember(team_id="t3", user_id="bob"),
    )
    events = o.decide_org(s, o.SyncTeams(user_id="bob", groups=["platform-eng"]))
    assert events == [
        o.OrgTeamMemberAdded(team_id="t1", user_id="bob"),
        o.OrgTeamMemberRemoved(team_id="t2", user_id="bob"),
    ]  # a team without an IdP group is left alone
    assert o.decide_org(s, o.SyncTeams(user_id="stranger", groups=["platform-eng"])) == []


def test_quota_scope_rules() -> None:
    s = fold_org(ACME)
    with pytest.raises(o.OrgConflict):
        o.decide_org(s, o.SetQuota(scope="user", limits=Limits()))
    with pytest.raises(o.OrgItemNotFound):
        o.decide_org(s, o.SetQuota(scope="user", user_id="nobody", limits=Limits()))
    assert o.decide_org(s, o.SetQuota(scope="org", limits=Limits())) == []  # unchanged: no event


# ---------------------------------------------------------------- users


def test_tokens_scopes_expiry_limits_and_revocation() -> None:
    u = fold_user(i.CreateUser(user_id="u1", login="alice"))
    bad = i.CreateToken(token_id="t", name="ci", scopes=["root"], expires_at=None, now=NOW)
    with pytest.raises(i.UserInvalid, match="scopes"):
        i.decide_user(u, bad)
    past = i.CreateToken(token_id="t", name="ci", scopes=["all"], expires_at=NOW - timedelta(seconds=1), now=NOW)
    with pytest.raises(i.UserInvalid, match="expires_at"):
        i.decide_user(u, past)
    ok = i.CreateToken(
        token_id="t1", name="ci", scopes=["workspaces:read", "workspaces:read"], expires_at=None, now=NOW
    )
    u = fold_user(i.CreateUser(user_id="u1", login="alice"), ok)
    assert u is not None and u.tokens["t1"].scopes == ["workspaces:read"]
    with pytest.raises(i.UserConflict, match="named"):
        i.decide_user(u, msgspec_replace(ok, token_id="t2"))
    u = fold_user(i.CreateUser(user_id="u1", login="alice"), ok, i.RevokeToken(token_id="t1"))
    assert u is not None and u.tokens["t1"].revoked
    assert i.decide_user(u, i.RevokeToken(token_id="t1")) == []
    with pytest.raises(i.UserNotFound):
        i.decide_user(u, i.RevokeToken(token_id="nope"))


def test_suspended_users_cannot_log_in_or_mint_tokens() -> None:
    u = fold_user(i.CreateUser(user_id="u1", login="alice"), i.SuspendUser(reason="left"))
    with pytest.raises(i.UserConflict, match="suspended"):
        i.decide_user(u, i.RecordLogin(provider="oidc", session_id="s", expires_at=NOW))
    with pytest.raises(i.UserConflict, match="suspended"):
        i.decide_user(u, i.CreateToken(token_id="t", name="x", scopes=["all"], expires_at=None, now=NOW))


def test_secrets_record_names_and_targets_only() -> None:
    u = fold_user(
        i.CreateUser(user_id="u1", login="alice"), i.SetSecret(name="openai", inject="env", target="OPENAI_API_KEY")
    )
    assert u is not None and u.secrets["openai"].target == "OPENAI_API_KEY"
    with pytest.raises(i.UserConflict, match="already injects"):
        i.decide_user(u, i.SetSecret(name="other", inject="env", target="OPENAI_API_KEY"))
    # setting it again is a fact (the value changed), and deleting twice is not found
    assert len(i.decide_user(u, i.SetSecret(name="openai", inject="env", target="OPENAI_API_KEY"))) == 1
    u = fold_user(
        i.CreateUser(user_id="u1", login="alice"),
        i.SetSecret(name="k", inject="file", target=".k"),
        i.DeleteSecret(name="k"),
    )
    assert u is not None and not u.secrets
    with pytest.raises(i.UserNotFound):
        i.decide_user(u, i.DeleteSecret(name="k"))


def test_identities_link_once() -> None:
    ident = i.UserIdentityLinked(provider="github", subject="42", login="alice")
    u = fold_user(i.CreateUser(user_id="u1", login="alice", identity=ident))
    assert u is not None and u.identities == {"github:42": "alice"}
    assert i.decide_user(u, i.LinkIdentity(identity=ident)) == []


def msgspec_replace(obj: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(obj, **changes)


# ---------------------------------------------------------------- quotas


def _budget(scope: str = "org", usage: Usage | None = None, **limits: Any) -> QuotaCheck:
    return QuotaCheck(budgets=[Budget(scope=scope, limits=Limits(**limits), usage=usage or Usage())])


@pytest.mark.parametrize(
    ("limits", "usage", "dimension"),
    [
        ({"max_workspaces": 2}, Usage(workspaces=2), "workspaces"),
        ({"max_running": 1}, Usage(running=1), "running"),
        ({"cpu": 3}, Usage(cpu=1.5), "cpu"),
        ({"memory_mb": 8000}, Usage(memory_mb=4000), "memory_mb"),
        ({"disk_gb": 30}, Usage(disk_gb=20), "disk_gb"),
        ({"workspace_cpu": 1}, Usage(), "cpu per workspace"),
        ({"workspace_memory_mb": 2048}, Usage(), "memory_mb per workspace"),
        ({"workspace_disk_gb": 10}, Usage(), "disk_gb per workspace"),
    ],
)
def test_each_limit_refuses_what_would_exceed_it(limits: dict[str, Any], usage: Usage, dimension: str) -> None:
    with pytest.raises(QuotaExceeded) as caught:
        check(_budget("user:bob", usage, **limits), RES, live=True, running=True)
    assert caught.value.dimension == dimension and caught.value.scope == "user:bob"


def test_exactly_at_the_limit_is_allowed_and_no_check_passes() -> None:
    check(
        _budget(usage=Usage(workspaces=1, running=0, cpu=0), max_workspaces=2, max_running=1, cpu=2),
        RES,
        live=True,
        running=True,
    )
    check(None, RES, live=True, running=True)


def test_a_decision_that_adds_nothing_passes_a_lowered_limit() -> None:
    # already over a limit that was lowered: what does not grow is not refused
    check(_budget(usage=Usage(workspaces=5), max_workspaces=1, max_running=5), RES, live=False, running=True)


def _created_state(quota: QuotaCheck | None = None) -> Any:
    ws = uuid.uuid4()
    spec = WorkspaceSpec(image="i", resources=RES)
    events = decide(
        None,
        c.CreateWorkspace(workspace_id=ws, name="w", owner_id="bob", spec=spec, placement="h", quota=quota),
        uuid.uuid4(),
    )
    state = None
    for n, e in enumerate(events):
        env = new_envelope(
            e, event_id=uuid.uuid4(), stream_id=str(ws), stream_version=n + 1, occurred_at=NOW, org_id="acme",
            actor=Actor(type="user", id="bob"), correlation_id=uuid.uuid4(),
        )  # fmt: skip
        state = evolve(state, env)
    return state


def test_workspace_decide_applies_the_quota_on_create_start_and_rebuild() -> None:
    spec = WorkspaceSpec(image="i", resources=RES)
    with pytest.raises(QuotaExceeded):
        decide(
            None,
            c.CreateWorkspace(
                workspace_id=uuid.uuid4(), name="w", owner_id="b", spec=spec, quota=_budget(max_running=0)
            ),
            uuid.uuid4(),
        )
    state = _created_state()
    stopped = msgspec_replace(state, status="stopped")
    with pytest.raises(QuotaExceeded):
        decide(stopped, c.StartWorkspace(quota=_budget(cpu=1)), uuid.uuid4())
    assert decide(stopped, c.StartWorkspace(quota=_budget(cpu=2)), uuid.uuid4())
    bigger = WorkspaceSpec(image="i", resources=Resources(cpu=8, memory_mb=4096, disk_gb=20))
    with pytest.raises(QuotaExceeded):
        decide(stopped, c.RebuildWorkspace(spec=bigger, quota=_budget(workspace_cpu=4)), uuid.uuid4())


def test_grants_are_facts_once() -> None:
    state = _created_state()
    granted = decide(state, c.GrantWorkspaceAccess(subject="user:carol", level="use"), uuid.uuid4())
    assert len(granted) == 1
    env = new_envelope(
        granted[0], event_id=uuid.uuid4(), stream_id=str(state.workspace_id), stream_version=state.version + 1,
        occurred_at=NOW, org_id="acme", actor=Actor(type="user", id="bob"), correlation_id=uuid.uuid4(),
    )  # fmt: skip
    after = evolve(state, env)
    assert after is not None and after.grants == {"user:carol": "use"}
    assert decide(after, c.GrantWorkspaceAccess(subject="user:carol", level="use"), uuid.uuid4()) == []
    assert decide(state, c.RevokeWorkspaceAccess(subject="user:carol"), uuid.uuid4()) == []


def test_force_stop_orders_no_grace_period() -> None:
    from wws_events import dispatch

    state = msgspec_replace(_created_state(), status="running", host_id="h")
    (stop,) = decide(state, c.StopWorkspace(reason="force-stopped by an admin", force=True), uuid.uuid4())
    assert stop.force and stop.reason == "force-stopped by an admin"
    assert dispatch(state, stop) == c.AgentStop(timeout_s=0.0)
    (gentle,) = decide(state, c.StopWorkspace(), uuid.uuid4())
    assert dispatch(state, gentle) == c.AgentStop()
