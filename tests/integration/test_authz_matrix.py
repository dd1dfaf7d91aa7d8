"""The authorization matrix, generated from the app's route table: every route, by every
role of an organization, by a member of another organization, by an instance admin and
anonymously. A route without a policy, or with an action this table does not know, fails
the test. The oracle is the log: a refusal is an ``access.denied`` event; an allowed
request writes none (it may still fail its own validation: that is not access)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute, WebSocketRoute
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.fixtures.people import Person, denials, organization, person
from tests.fixtures.services import InProcessApi
from wws_api.app import create_app

pytestmark = pytest.mark.integration

ROLES = ("owner", "admin", "template_admin", "auditor", "member")
# the specification: who may do what (workspace actions: on a workspace of another member)
ORG: dict[str, set[str]] = {
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
WORKSPACE: dict[str, set[str]] = {
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
SELF = {"self.read", "self.tokens", "self.secrets"}
INSTANCE_ADMIN_ONLY = {"org.create", "user.list", "user.suspend"}
EVERYONE = {"invitation.respond"}

# bodies that are valid JSON but, when access is granted, lead nowhere harmful
BODIES: dict[str, Any] = {
    "/api/v1/orgs/{org}/members/{user_id}": {"role": "member"},
    "/api/v1/workspaces/{workspace_id}/access/{subject}": {"level": "use"},
}


def routes() -> list[tuple[str, str, dict[str, Any]]]:
    from tests.fixtures.services import api_settings

    app = create_app(api_settings("postgresql://unused", "nats://unused"))
    found: list[tuple[str, str, dict[str, Any]]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not str(getattr(handler.fn, "__module__", "")).startswith("wws_api"):
                continue
            assert "policy" in handler.opt, f"{route.path} has no access policy"
            found.extend((m, route.path, handler.opt["policy"]) for m in handler.http_methods - {"OPTIONS", "HEAD"})
    return sorted(found, key=lambda x: (x[1], x[0]))


ROUTES = routes()


def websocket_routes() -> list[tuple[str, dict[str, Any]]]:
    from tests.fixtures.services import api_settings

    app = create_app(api_settings("postgresql://unused", "nats://unused"))
    found = []
    for route in app.routes:
        if isinstance(route, WebSocketRoute) and str(route.route_handler.fn.__module__).startswith("wws_api"):
            assert "policy" in route.route_handler.opt, f"{route.path} has no access policy"
            found.append((route.path, route.route_handler.opt["policy"]))
    return sorted(found, key=lambda x: x[0])


WS_ROUTES = websocket_routes()


def test_every_route_declares_a_known_action() -> None:
    known = set(ORG) | set(WORKSPACE) | SELF | INSTANCE_ADMIN_ONLY | EVERYONE
    for method, path, rule in ROUTES:
        if rule["resource"] == "public":
            # credentials of their own: a share link (its level decides), a signed file link
            carries_own = path.startswith(("/api/v1/shares/", "/api/v1/file-links/"))
            assert method == "GET" or carries_own, f"only reads may be public: {method} {path}"
            continue
        assert rule["action"] in known, f"{method} {path}: action {rule['action']!r} has no row in this matrix"


class World:
    def __init__(self, api: InProcessApi) -> None:
        self.api = api
        self.people: dict[str, Person] = {}
        self.n = 0

    async def build(self) -> None:
        for role in ROLES:
            self.people[role] = await person(self.api, f"acme-{role.replace('_', '-')}")
        self.people["creator"] = await person(self.api, "acme-creator")
        self.people["foreign"] = await person(self.api, "globex-owner")
        owner = self.people["owner"]
        members = {f"m{n}": (self.people[r], r) for n, r in enumerate(ROLES[1:])}
        members["creator"] = (self.people["creator"], "member")
        await organization(self.api, "acme", owner, **members)  # type: ignore[arg-type]
        await organization(self.api, "globex", self.people["foreign"])
        c = self.client(self.people["owner"])
        r = await c.post("/api/v1/orgs/acme/teams", json={"name": "platform"})
        assert r.status_code == 201, r.text
        self.team = r.json()["id"]

    def client(self, who: Person | None) -> httpx.AsyncClient:
        headers = who.headers("acme") if who else {}
        return httpx.AsyncClient(base_url=self.api.url, headers=headers, timeout=30)

    async def workspace(self) -> str:
        """A fresh workspace of another member (pending: no host needed)."""
        self.n += 1
        async with self.client(self.people["creator"]) as c:
            r = await c.post("/api/v1/workspaces", json={"name": f"w{self.n}"})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    async def url(self, method: str, path: str) -> str:
        # destructive routes aim at nobody: granted access then ends in "not found", and the
        # world stays the same for the next actor
        harmless = method == "DELETE" and "/members/" in path and "/teams/" not in path
        harmless = harmless or path.endswith(("/suspend", "/reactivate"))
        values = {
            "org": "acme",
            "user_id": "nobody" if harmless else self.people["creator"].user_id,
            "team": self.team,
            "invitation_id": "inv-none",
            "token_id": "none",
            "name": "none",
            "provider": "github",
            "subject": f"user:{self.people['member'].user_id}",
            "ident": "none",
            "slug": "not-found",
            "share_id": "none",
            "rest": "x",
            "port": "8000",
            "token": "none",
        }
        if "{workspace_id" in path:
            values["workspace_id"] = await self.workspace()
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def expected(actor: str, rule: dict[str, Any]) -> int | None:
    """None: allowed; else the refusal status (403, or 404 when the resource is hidden)."""
    action, kind = rule["action"], rule["resource"]
    if actor == "anonymous":
        return 401
    if kind == "self" or action in EVERYONE:
        return None
    if action in INSTANCE_ADMIN_ONLY:
        return None if actor == "instance-admin" else 403
    if actor in ("foreign", "instance-admin"):
        return 404  # not a member of acme: acme's things do not exist for them
    if action in ORG:
        return None if actor in ORG[action] else 403
    allowed = WORKSPACE[action]
    if actor in allowed:
        return None
    return 403 if actor in WORKSPACE["workspace.read"] else 404


ACTORS = (*ROLES, "foreign", "instance-admin", "anonymous")


@pytest.fixture
def api_overrides() -> dict[str, Any]:
    return {"rate_lifecycle_per_min": 100000.0, "rate_lifecycle_burst": 100000}


async def test_authorization_matrix(api: InProcessApi) -> None:
    world = World(api)
    await world.build()
    admin = Person(user_id="admin", login="admin", token="test-admin-token")
    failures = []
    checked = 0
    for method, path, rule in ROUTES:
        if rule["resource"] == "public":
            continue
        for actor in ACTORS:
            who = None if actor == "anonymous" else admin if actor == "instance-admin" else world.people[actor]
            url = await world.url(method, path)
            before = await denials(api, who.user_id) if who else 0
            async with world.client(who) as c:
                body = BODIES.get(re.sub(r":\w+\}", "}", path), {}) if method in ("POST", "PUT", "PATCH") else None
                # streamed: the event feed (SSE) never ends by itself; its status is enough
                async with c.stream(method, url, json=body) as r:
                    text = (await r.aread()).decode(errors="replace") if r.status_code >= 300 else ""
            denied = (await denials(api, who.user_id) if who else 0) > before
            want = expected(actor, rule)
            checked += 1
            if want is None:
                if denied or r.status_code in (401, 403):
                    failures.append(f"{actor:15} {method} {path}: expected access, got {r.status_code} {text[:120]}")
            elif r.status_code != want or (want != 401 and not denied):
                failures.append(
                    f"{actor:15} {method} {path}: expected {want} + an access.denied event, "
                    f"got {r.status_code} (event: {denied}) {text[:120]}"
                )
    assert not failures, f"{len(failures)} of {checked} cells wrong:\n" + "\n".join(failures)
    assert checked >= 8 * 40


def test_websocket_routes_are_in_the_matrix_too() -> None:
    paths = {p for p, _ in WS_ROUTES}
    assert any(p.endswith("/terminal") for p in paths) and any("/ide" in p for p in paths), paths


async def test_websocket_authorization_matrix(api: InProcessApi) -> None:
    """The IDE's, a port's and the terminal's WebSockets: nobody but those who may use the
    workspace gets a handshake (the owner here is another member: every actor is refused,
    and each refusal is in the log)."""
    world = World(api)
    await world.build()
    admin = Person(user_id="admin", login="admin", token="test-admin-token")
    failures = []
    for path, rule in WS_ROUTES:
        if rule["resource"] == "public":
            continue
        assert rule["action"] == "workspace.use", path
        for actor in ACTORS:
            who = None if actor == "anonymous" else admin if actor == "instance-admin" else world.people[actor]
            url = api.url.replace("http://", "ws://") + await world.url("GET", path)
            before = await denials(api, who.user_id) if who else 0
            try:
                async with ws_connect(url, additional_headers=who.headers("acme") if who else {}, open_timeout=10):
                    failures.append(f"{actor:15} WS {path}: handshake accepted")
                    continue
            except InvalidStatus as exc:
                status = exc.response.status_code
            denied = (await denials(api, who.user_id) if who else 0) > before
            if status not in (401, 403, 404) or (who is not None and not denied):
                failures.append(f"{actor:15} WS {path}: got {status}, denial event: {denied}")
    assert not failures, "\n".join(failures)
