"""Browser login end to end: the real API (uvicorn, Postgres, NATS) against the local OpenID
Connect provider and the GitHub OAuth stand-in from ``tests/fixtures/idp.py``. A plain httpx
client without credentials plays the browser: it follows every 302 by hand between the API and
the identity provider and keeps the cookies it is given."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx
import pytest

from tests.fixtures.idp import GitHubOAuthStub, OidcProvider, TamperKind
from tests.fixtures.people import problem
from tests.fixtures.services import InProcessApi
from wws_service.settings import Secret

pytestmark = pytest.mark.integration

OIDC_ID, OIDC_SECRET = "wws-api", "oidc-client-secret"
GH_ID, GH_SECRET = "Iv1.wwstest", "github-client-secret"
COOKIE = "wws_session"
LOGIN_FAILED = "/api/v1/problems/login-failed"
ALICE: dict[str, Any] = {
    "preferred_username": "alice",
    "name": "Alice Liddell",
    "email": "alice@example.com",
    "email_verified": True,
    "groups": ["platform-eng", "everyone"],
}
BOB: dict[str, Any] = {"preferred_username": "bob", "email": "bob@example.com", "email_verified": True}


@pytest.fixture
def api_overrides(oidc_provider: OidcProvider, github_oauth: GitHubOAuthStub) -> dict[str, Any]:
    return {
        "oidc_issuer": oidc_provider.issuer,
        "oidc_client_id": OIDC_ID,
        "oidc_client_secret": Secret(OIDC_SECRET),
        "oidc_default_org": "acme",
        "github_client_id": GH_ID,
        "github_client_secret": Secret(GH_SECRET),
        "github_url": github_oauth.base_url,
        "github_api_url": github_oauth.api_url,
    }


@pytest.fixture
def site(api: InProcessApi, oidc_provider: OidcProvider, github_oauth: GitHubOAuthStub) -> InProcessApi:
    """The API with its client registered at both providers (the callback port is known now)."""
    oidc_provider.register_client(OIDC_ID, OIDC_SECRET, [f"{api.url}/api/v1/auth/oidc/callback"])
    github_oauth.register_client(GH_ID, GH_SECRET, [f"{api.url}/api/v1/auth/github/callback"])
    return api


def browser(api: InProcessApi) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, follow_redirects=False, timeout=30)


async def to_callback(b: httpx.AsyncClient, provider: str, **params: str) -> tuple[str, str]:
    """Start a login and let the provider answer: (the provider's authorize URL, the callback URL)."""
    r = await b.get(f"/api/v1/auth/{provider}/login", params=params)
    assert r.status_code == 302, r.text
    authorize = r.headers["location"]
    r = await b.get(authorize)
    assert r.status_code == 302, r.text
    callback = r.headers["location"]
    base = str(b.base_url).rstrip("/")
    assert callback.startswith(f"{base}/api/v1/auth/{provider}/callback?"), callback
    return authorize, callback


async def login(b: httpx.AsyncClient, provider: str, **params: str) -> httpx.Response:
    """The whole round trip; the callback's answer (a 302 with the session cookie, or a problem)."""
    _, callback = await to_callback(b, provider, **params)
    return await b.get(callback)


def session_cookie(r: httpx.Response) -> str | None:
    found = [h for h in r.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(found) <= 1, found
    return found[0] if found else None


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


async def me(b: httpx.AsyncClient) -> dict[str, Any]:
    r = await b.get("/api/v1/users/me")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def events(api: InProcessApi, user_id: str) -> list[str]:
    rows = await api.services.pool.fetch(
        "SELECT event_type FROM wws_events WHERE stream_id = $1 ORDER BY global_position", f"user-{user_id}"
    )
    return [r["event_type"] for r in rows]


async def login_users(api: InProcessApi) -> int:
    """Users made by logins (everyone but the bootstrap owner)."""
    n: int = await api.services.pool.fetchval(
        "SELECT count(*) FROM wws_events WHERE event_type = 'user.created' AND stream_id <> 'user-admin'"
    )
    return n


async def team_members(api: InProcessApi, org: str, team: str) -> list[str]:
    r = await api.client.get(f"/api/v1/orgs/{org}/teams")
    assert r.status_code == 200, r.text
    return next(list(t["members"]) for t in r.json() if t["name"] == team)


def refused(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    assert problem(r) == LOGIN_FAILED, r.text
    assert session_cookie(r) is None


# --------------------------------------------------------------------------------------------


async def test_oidc_login_session_auto_join_and_team_sync(site: InProcessApi, oidc_provider: OidcProvider) -> None:
    api = site
    r = await api.client.post("/api/v1/orgs", json={"name": "acme"})
    assert r.status_code == 201, r.text
    r = await api.client.post("/api/v1/orgs/acme/teams", json={"name": "platform", "idp_group": "platform-eng"})
    assert r.status_code == 201, r.text
    async with browser(api) as b:
        r = await b.get("/api/v1/auth/providers")
        assert r.status_code == 200, r.text
        assert {p["name"]: p["login"] for p in r.json()["providers"]} == {
            "github": "/api/v1/auth/github/login",
            "oidc": "/api/v1/auth/oidc/login",
        }
        oidc_provider.login_as("sub-alice", **ALICE)
        r = await login(b, "oidc", next="/workspaces?view=mine")
        assert r.status_code == 302, r.text
        assert r.headers["location"] == "/workspaces?view=mine"
        cookie = session_cookie(r)
        assert cookie is not None
        attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
        assert "httponly" in attrs and attrs["samesite"].lower() == "samesite=lax" and attrs["path"] == "Path=/"
        assert "secure" not in attrs  # plain http here
        assert b.cookies.get(COOKIE)

        mine = await me(b)
        assert mine["login"] == "alice" and mine["name"] == "Alice Liddell" and mine["email"] == "alice@example.com"
        assert mine["identities"] == [
            {"provider": "oidc", "login": "alice", "email": "alice@example.com", "email_verified": True}
        ]
        assert mine["auth"]["via"] == "session" and mine["auth"]["csrf"]
        assert [(o["name"], o["role"], o["teams"]) for o in mine["orgs"]] == [("acme", "member", ["platform"])]
        user_id = mine["id"]
    assert await team_members(api, "acme", "platform") == [user_id]
    log = await events(api, user_id)
    assert log[:2] == ["user.created", "user.identity_linked"] and log.count("user.logged_in") == 1

    # the next login brings other groups: out of the team, still the same user and still a member
    oidc_provider.login_as("sub-alice", **{**ALICE, "groups": ["everyone"]})
    async with browser(api) as b:
        assert (await login(b, "oidc")).status_code == 302
        again = await me(b)
    assert again["id"] == user_id
    assert [(o["name"], o["role"], o["teams"]) for o in again["orgs"]] == [("acme", "member", [])]
    assert await team_members(api, "acme", "platform") == []
    log = await events(api, user_id)
    assert log.count("user.created") == 1 and log.count("user.logged_in") == 2
    assert await login_users(api) == 1


async def test_session_writes_need_csrf_and_logout_ends_the_session(
    site: InProcessApi, oidc_provider: OidcProvider
) -> None:
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(api) as b:
        assert (await login(b, "oidc")).status_code == 302
        mine = await me(b)
        csrf = mine["auth"]["csrf"]
        old_cookie = b.cookies[COOKIE]

        r = await b.post("/api/v1/users/me/tokens", json={"name": "cli"})
        assert r.status_code == 403 and problem(r) == "/api/v1/problems/forbidden", r.text
        r = await b.post("/api/v1/users/me/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf + "x"})
        assert r.status_code == 403, r.text
        r = await b.post("/api/v1/users/me/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert re.fullmatch(r"wws_\S+", token), token

        async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {token}"}) as bearer:
            by_token = await me(bearer)
        assert by_token["id"] == mine["id"] and by_token["auth"]["via"] == "token" and "csrf" not in by_token["auth"]

        assert (await b.post("/api/v1/auth/logout")).status_code == 403  # logout is a write too
        r = await b.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204, r.text
        cleared = session_cookie(r)
        assert cleared is not None and cleared.startswith(f'{COOKIE}="";'), cleared
        assert "max-age=0" in cleared.lower().replace(" ", "")
        assert COOKIE not in b.cookies
    async with httpx.AsyncClient(base_url=api.url, cookies={COOKIE: old_cookie}) as stale:
        r = await stale.get("/api/v1/users/me")
        assert r.status_code == 401 and problem(r) == "/api/v1/problems/unauthorized", r.text
    assert "user.logged_out" in await events(api, mine["id"])


@pytest.mark.parametrize("kind", ["nonce", "audience", "expired", "signature", "issuer"])
async def test_a_bad_id_token_is_refused(site: InProcessApi, oidc_provider: OidcProvider, kind: TamperKind) -> None:
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    oidc_provider.tamper_next_id_token(kind)
    async with browser(api) as b:
        r = await login(b, "oidc")
        refused(r)
        assert COOKIE not in b.cookies
    assert await login_users(api) == 0
    assert await api.services.pool.fetchval("SELECT count(*) FROM auth_sessions") == 0
    # the provider and client work otherwise: the very next (honest) token logs in
    async with browser(api) as b:
        assert (await login(b, "oidc")).status_code == 302
    assert await login_users(api) == 1


async def test_state_is_one_use_and_must_have_been_issued(site: InProcessApi, oidc_provider: OidcProvider) -> None:
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(api) as b:
        _, callback = await to_callback(b, "oidc")
        assert (await b.get(callback)).status_code == 302
    async with browser(api) as replay:
        # even with the browser binding replayed too, the state was used up
        r = await replay.get(callback, headers={"Cookie": f"wws_login={query(callback)['state']}"})
        refused(r)
        assert "unknown or expired login state" in r.json()["detail"]
    async with browser(api) as b:
        refused(await b.get("/api/v1/auth/oidc/callback", params={"code": "abc", "state": "never-issued-" + "x" * 30}))
        refused(await b.get("/api/v1/auth/oidc/callback"))
        # a state issued for one provider does not finish a login at another
        _, callback = await to_callback(b, "oidc")
        refused(await b.get("/api/v1/auth/github/callback", params={"code": "abc", "state": query(callback)["state"]}))
    assert await login_users(api) == 1
    assert await api.services.pool.fetchval("SELECT count(*) FROM auth_sessions") == 1


async def test_a_login_finishes_only_in_the_browser_that_started_it(
    site: InProcessApi, oidc_provider: OidcProvider
) -> None:
    """Login CSRF (RFC 6749 §10.12): an attacker starts a login and gets a victim's browser
    to finish it; the state is bound to the starting browser by a cookie, so it fails."""
    oidc_provider.login_as("sub-mallory", preferred_username="mallory", email="m@evil.example", email_verified=True)
    async with browser(site) as attacker:
        _, callback = await to_callback(attacker, "oidc")
    async with browser(site) as victim:
        r = await victim.get(callback)
        refused(r)
        assert "not started in this browser" in r.json()["detail"]
        assert COOKIE not in victim.cookies
    assert await login_users(site) == 0


@pytest.mark.parametrize("provider", ["oidc", "github"])
async def test_a_code_the_provider_refuses_is_a_failed_login(site: InProcessApi, provider: str) -> None:
    """A live state with a forged code: the provider's token endpoint says no, and so does the API."""
    async with browser(site) as b:
        r = await b.get(f"/api/v1/auth/{provider}/login")
        assert r.status_code == 302, r.text
        state = query(r.headers["location"])["state"]
        r = await b.get(f"/api/v1/auth/{provider}/callback", params={"code": "forged-code", "state": state})
        refused(r)
        assert "refused the code" in r.json()["detail"]
    assert await login_users(site) == 0


async def test_denied_consent_creates_nothing(site: InProcessApi, oidc_provider: OidcProvider) -> None:
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    oidc_provider.deny_next()
    async with browser(api) as b:
        _, callback = await to_callback(b, "oidc")
        assert query(callback)["error"] == "access_denied" and "code" not in query(callback)
        refused(await b.get(callback))
        assert COOKIE not in b.cookies
    assert await login_users(api) == 0
    assert await api.services.pool.fetchval("SELECT count(*) FROM auth_sessions") == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
async def test_next_is_never_an_open_redirect(site: InProcessApi, oidc_provider: OidcProvider, target: str) -> None:
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(site) as b:
        r = await login(b, "oidc", next=target)
        assert r.status_code == 302, r.text
        assert r.headers["location"] == "/api/v1/users/me"
        assert session_cookie(r) is not None


@pytest.mark.parametrize("github_oauth", [False, True], ids=["github.com", "enterprise"], indirect=True)
async def test_github_login_with_pkce(site: InProcessApi, github_oauth: GitHubOAuthStub) -> None:
    api = site
    github_oauth.login_as(
        "octocat",
        id=583231,
        name="The Octocat",
        email=None,  # no public address: the verified primary one comes from /user/emails
        emails=[
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octo@example.com", "primary": True, "verified": True},
            {"email": "unverified@example.com", "primary": False, "verified": False},
        ],
    )
    async with browser(api) as b:
        authorize, callback = await to_callback(b, "github", next="/home")
        assert authorize.startswith(f"{github_oauth.base_url}/login/oauth/authorize?")
        asked = query(authorize)
        assert asked["code_challenge_method"] == "S256" and re.fullmatch(r"[A-Za-z0-9_-]{43}", asked["code_challenge"])
        assert asked["client_id"] == GH_ID and asked["redirect_uri"] == f"{api.url}/api/v1/auth/github/callback"
        assert query(callback)["state"] == asked["state"] and len(asked["state"]) >= 32
        r = await b.get(callback)
        assert r.status_code == 302 and r.headers["location"] == "/home", r.text
        mine = await me(b)
    assert mine["login"] == "octocat" and mine["name"] == "The Octocat" and mine["email"] == "octo@example.com"
    assert mine["identities"] == [
        {"provider": "github", "login": "octocat", "email": "octo@example.com", "email_verified": True}
    ]
    assert mine["auth"]["via"] == "session" and mine["orgs"] == []  # no org auto-join for GitHub users
    prefix = "/api/v3" if github_oauth.enterprise else "/rest"
    assert github_oauth.requests == [
        ("GET", "/login/oauth/authorize"),
        ("POST", "/login/oauth/access_token"),
        ("GET", f"{prefix}/user"),
        ("GET", f"{prefix}/user/emails"),
    ]
    log = await events(api, mine["id"])
    assert log == ["user.created", "user.identity_linked", "user.logged_in"]


async def test_linking_github_to_a_logged_in_user(
    site: InProcessApi, oidc_provider: OidcProvider, github_oauth: GitHubOAuthStub
) -> None:
    api = site
    github_oauth.login_as("octocat", id=583231, email="octo@example.com")
    async with browser(api) as anonymous:
        r = await anonymous.get("/api/v1/auth/github/login", params={"link": "true"})
        assert r.status_code == 422 and "link" in r.text, r.text  # linking needs a session
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(api) as alice:
        assert (await login(alice, "oidc")).status_code == 302
        alice_id = (await me(alice))["id"]
        r = await login(alice, "github", link="true")
        assert r.status_code == 302, r.text
        mine = await me(alice)
    assert mine["id"] == alice_id and mine["login"] == "alice"
    assert [(x["provider"], x["login"]) for x in mine["identities"]] == [("github", "octocat"), ("oidc", "alice")]
    # GitHub alone now logs in as the same WWS user
    async with browser(api) as b:
        assert (await login(b, "github")).status_code == 302
        assert (await me(b))["id"] == alice_id

    oidc_provider.login_as("sub-bob", **BOB)
    async with browser(api) as bob:
        assert (await login(bob, "oidc")).status_code == 302
        bob_id = (await me(bob))["id"]
        refused(await login(bob, "github", link="true"))
        assert [x["provider"] for x in (await me(bob))["identities"]] == ["oidc"]
    assert bob_id != alice_id
    assert "user.identity_linked" not in (await events(api, bob_id))[2:]
    owner = await api.services.pool.fetchval(
        "SELECT user_id FROM id_identities WHERE provider = 'github' AND subject = '583231'"
    )
    assert owner == alice_id
    assert await login_users(api) == 2


async def test_next_cannot_smuggle_a_link_to_another_user(
    site: InProcessApi, oidc_provider: OidcProvider, github_oauth: GitHubOAuthStub
) -> None:
    """Only ``?link=true`` from a session links; a crafted ``next`` must not (account takeover)."""
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(api) as alice:
        assert (await login(alice, "oidc")).status_code == 302
        alice_id = (await me(alice))["id"]
    github_oauth.login_as("mallory", id=666, email="mallory@example.com")
    async with browser(api) as mallory:
        r = await login(mallory, "github", next=f"/x#link:{alice_id}")
        assert r.status_code == 302, r.text
        assert r.headers["location"].startswith("/x")
        who = await me(mallory)
    assert who["id"] != alice_id and who["login"] == "mallory"
    owner = await api.services.pool.fetchval(
        "SELECT user_id FROM id_identities WHERE provider = 'github' AND subject = '666'"
    )
    assert owner == who["id"]
    rows = await api.services.pool.fetch("SELECT provider FROM id_identities WHERE user_id = $1", alice_id)
    assert [r["provider"] for r in rows] == ["oidc"]


async def test_bootstrap_link_is_one_use(site: InProcessApi) -> None:
    api = site
    token = await api.services.accounts.one_time_link("admin")
    async with browser(api) as b:
        r = await b.get("/api/v1/auth/bootstrap", params={"token": token})
        assert r.status_code == 302 and r.headers["location"] == "/api/v1/users/me", r.text
        assert session_cookie(r) is not None
        mine = await me(b)
        assert mine["id"] == "admin" and mine["auth"]["via"] == "session" and mine["auth"]["csrf"]
    async with browser(api) as again:
        refused(await again.get("/api/v1/auth/bootstrap", params={"token": token}))
        r = await again.get("/api/v1/users/me")
        assert r.status_code == 401, r.text


async def test_suspension_ends_sessions_and_blocks_login(site: InProcessApi, oidc_provider: OidcProvider) -> None:
    api = site
    oidc_provider.login_as("sub-alice", **ALICE)
    async with browser(api) as b:
        assert (await login(b, "oidc")).status_code == 302
        user_id = (await me(b))["id"]
        r = await api.client.post(f"/api/v1/users/{user_id}/suspend")
        assert r.status_code == 204, r.text
        r = await b.get("/api/v1/users/me")
        assert r.status_code == 401, r.text
    async with browser(api) as b:
        refused(await login(b, "oidc"))
        assert COOKIE not in b.cookies
    assert await api.services.pool.fetchval("SELECT count(*) FROM auth_sessions WHERE user_id = $1", user_id) == 0
    log = await events(api, user_id)
    assert "user.suspended" in log and log.count("user.logged_in") == 1
