"""``/api/v1/auth``: browser login through GitHub or OIDC, the first owner's one-time
link, logout. Sessions are HttpOnly, SameSite=Lax cookies (Secure behind https); writes
made with them need the session's CSRF token (``GET /users/me`` shows it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect

from wws_api import errors
from wws_api.access import PUBLIC, policy
from wws_api.accounts import Accounts
from wws_api.auth import SESSION_COOKIE, Principal, client_ip
from wws_api.identity import BOOTSTRAP_USER
from wws_api.login import Login, safe_next
from wws_api.schemas_identity import Providers
from wws_api.settings import ApiSettings


def _cookie(settings: ApiSettings, request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    secure = settings.cookie_secure == "true" or (
        settings.cookie_secure == "auto" and (settings.public_url or str(request.base_url)).startswith("https:")
    )
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
        domain=settings.cookie_domain or None,
    )


LOGIN_COOKIE = "wws_login"


def _login_cookie(request: Request[Any, Any, Any], state: str, max_age: int) -> Cookie:
    """Binds an OAuth state to the browser that started the login (only the callback reads it)."""
    settings: ApiSettings = request.app.state.services.settings
    return Cookie(
        key=LOGIN_COOKIE,
        value=state,
        max_age=max_age,
        path="/api/v1/auth/",
        httponly=True,
        samesite="lax",
        secure=_cookie(settings, request, "", 0).secure,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @get("/providers", summary="How one can log in here", opt=PUBLIC)
    async def providers(self, login: NamedDependency[Login], settings: NamedDependency[ApiSettings]) -> Providers:
        return Providers(
            providers=[
                {"name": name, "display": p.display, "login": f"/api/v1/auth/{name}/login"}
                for name, p in login.providers.items()
            ],
            bootstrap_token=settings.admin_token is not None,
        )

    @get("/{provider:str}/login", summary="Start a login (302 to the provider)", opt=PUBLIC, status_code=302)
    async def begin(
        self,
        request: Request[Principal | None, Any, Any],
        login: NamedDependency[Login],
        provider: FromPath[str],
        next: Annotated[str | None, QueryParameter(description="Path to land on after login")] = None,  # noqa: A002
        link: Annotated[bool, QueryParameter(description="Link this provider to the logged-in user")] = False,
    ) -> Redirect:
        link_user = None
        if link:
            principal = request.scope.get("user")
            if principal is None:
                raise errors.BadRequestField("link", "linking a provider needs a logged-in session")
            link_user = principal.user_id
        url, state = await login.begin(provider, str(request.base_url), next, link_user)
        return Redirect(path=url, status_code=302, cookies=[_login_cookie(request, state, 600)])

    @get("/{provider:str}/callback", summary="The provider's answer: a session, then 302", opt=PUBLIC, status_code=302)
    async def callback(
        self,
        request: Request[Any, Any, Any],
        login: NamedDependency[Login],
        settings: NamedDependency[ApiSettings],
        provider: FromPath[str],
        code: FromQuery[str | None] = None,
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        error: FromQuery[str | None] = None,
    ) -> Redirect:
        if error:
            raise errors.LoginFailed(f"the provider answered: {error[:100]}")
        if not code or not oauth_state:
            raise errors.LoginFailed("the provider's answer has no code or state")
        session, target = await login.finish(
            provider,
            str(request.base_url),
            code,
            oauth_state,
            request.cookies.get(LOGIN_COOKIE),
            client_ip(request, request.app.state.trusted_proxies),
            request.headers.get("user-agent"),
        )
        cookie = _cookie(settings, request, session.cookie, int(settings.session_ttl_s))
        return Redirect(path=target, status_code=302, cookies=[cookie, _login_cookie(request, "", 0)])

    @get("/bootstrap", summary="Redeem the first owner's one-time login link", opt=PUBLIC, status_code=302)
    async def bootstrap(
        self,
        request: Request[Any, Any, Any],
        accounts: NamedDependency[Accounts],
        settings: NamedDependency[ApiSettings],
        token: Annotated[str, QueryParameter(min_length=20, max_length=200)],
    ) -> Redirect:
        user_id = await accounts.redeem_one_time(token)
        if user_id is None:
            raise errors.LoginFailed("this link was used already or has expired; create a new one")
        session = await accounts.create_session(
            user_id,
            "bootstrap",
            timedelta(seconds=settings.session_ttl_s),
            client_ip(request, request.app.state.trusted_proxies),
            request.headers.get("user-agent"),
        )
        cookie = _cookie(settings, request, session.cookie, int(settings.session_ttl_s))
        return Redirect(path=safe_next(None), status_code=302, cookies=[cookie])

    @post("/logout", summary="End this browser session", opt=policy("self.read", "self"), status_code=204)
    async def logout(
        self,
        request: Request[Principal, Any, Any],
        accounts: NamedDependency[Accounts],
        settings: NamedDependency[ApiSettings],
    ) -> Response[None]:
        principal = request.user
        if principal.auth.session_id is None:
            raise errors.BadRequestField("session", "this request is not authenticated by a browser session")
        await accounts.end_session(principal.user_id, principal.auth.session_id, principal.actor)
        return Response(None, status_code=204, cookies=[_cookie(settings, request, "", 0)])


__all__ = ["BOOTSTRAP_USER", "AuthController"]
