"""The Litestar application and the background workers that share its process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.routes import ASGIRoute, HTTPRoute

from wws_api import __version__, desired, oauth, problems, recorder, relay, subdomains
from wws_api.access import check_routes, guard
from wws_api.accounts import Accounts
from wws_api.auth import Authenticator
from wws_api.fastpath import FastPath
from wws_api.gatewaykeys import GatewaySigner
from wws_api.hosts import HostRegistry
from wws_api.identity import IDENTITY, Identity
from wws_api.login import Login
from wws_api.orgs import OrgService
from wws_api.ratelimit import RateLimits
from wws_api.reach import Reach
from wws_api.readmodel import ReadModel
from wws_api.routes.audit import AuditController
from wws_api.routes.auth import AuthController
from wws_api.routes.hosts import HostController
from wws_api.routes.orgs import InvitationController, OrgController
from wws_api.routes.reach import ROUTES as REACH_ROUTES
from wws_api.routes.system import health, openapi_json, problem_type
from wws_api.routes.templates import TemplateController
from wws_api.routes.users import UserController
from wws_api.routes.workspaces import WorkspaceController
from wws_api.scheduler import Scheduler
from wws_api.service import WorkspaceService
from wws_api.settings import ApiSettings
from wws_api.shares import ShareService
from wws_api.state import AppServices
from wws_api.supervisor import Supervisor
from wws_api.templates import TemplateService
from wws_api.waiter import ReadModelWaiter
from wws_service import bus
from wws_service.clock import Clock, SystemClock
from wws_store import db, projection
from wws_store.secrets import Keyring

log = structlog.get_logger("wws.api")


def _services(state: State) -> AppServices:
    services: AppServices = state.services
    return services


def _workspaces(state: State) -> WorkspaceService:
    return _services(state).workspaces


def _templates(state: State) -> TemplateService:
    return _services(state).templates


def _dep(name: str) -> Provide:
    def get(state: State) -> Any:
        return getattr(state.services, name)

    return Provide(get, sync_to_thread=False)


def create_app(settings: ApiSettings, *, clock: Clock | None = None) -> Litestar:
    """Build the app. Connections are opened by the lifespan, so the factory does no I/O."""
    clk = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await stack.enter_async_context(db.pool(settings.database_url, max_size=20))
            async with pool.acquire() as conn:
                await db.migrate(conn)
            nc = await stack.enter_async_context(bus.connect(settings.nats_url, name="wws-api"))
            js = nc.jetstream()
            await bus.ensure_streams(js)
            registry = HostRegistry(clk, settings.host_ttl_s)
            scheduler = Scheduler(
                pool,
                registry,
                clk,
                cpu_overcommit=settings.cpu_overcommit,
                memory_overcommit=settings.memory_overcommit,
                deadline_s=settings.provision_timeout_s,
            )
            waiter = ReadModelWaiter(pool)
            await waiter.start(settings.database_url)
            stack.push_async_callback(waiter.close)
            stop = asyncio.Event()
            fastpath = FastPath(pool, js)
            keyring = Keyring.parse(settings.secret_keys.reveal()) if settings.secret_keys else None
            templates = TemplateService(pool, settings, clk)
            identity = Identity(pool, clk)
            workspaces = WorkspaceService(pool, settings, scheduler, waiter, clk, fastpath, templates, keyring)
            await projection.catch_up(pool, IDENTITY)
            await identity.bootstrap()
            accounts = Accounts(identity, keyring)
            stack.push_async_callback(fastpath.drain)
            signer = await GatewaySigner.load(pool)
            reach = Reach(pool, registry, signer)
            stack.push_async_callback(reach.close)
            services = AppServices(
                settings=settings,
                clock=clk,
                pool=pool,
                nc=nc,
                js=js,
                registry=registry,
                scheduler=scheduler,
                waiter=waiter,
                workspaces=workspaces,
                templates=templates,
                identity=identity,
                accounts=accounts,
                orgs=OrgService(identity, settings),
                login=Login(identity, accounts, oauth.providers(settings), settings),
                shares=ShareService(pool, settings, clk, workspaces),
                gateway=signer,
                reach=reach,
                rate_limits=RateLimits(
                    pool, clk, per_min=settings.rate_lifecycle_per_min, burst=settings.rate_lifecycle_burst
                ),
                stop=stop,
                tasks=[],
            )
            app.state.services = services

            def spawn(name: str, work: Callable[[], Awaitable[None]]) -> None:
                async def supervised() -> None:
                    delay = 0.5
                    while not stop.is_set():
                        try:
                            await work()
                            return
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            log.exception("api.worker_crashed", worker=name, restart_in=delay)
                            await asyncio.sleep(delay)
                            delay = min(delay * 2, 30.0)

                services.tasks.append(asyncio.create_task(supervised(), name=name))

            spawn("hosts", lambda: registry.run(js, stop))
            spawn("control", lambda: desired.serve(pool, nc, keyring, accounts, stop))
            spawn("gateway_keys", lambda: services.gateway.keep_published(js, stop, pool))
            if settings.run_workers:
                spawn("relay", lambda: relay.run(pool, js, settings.database_url, stop, batch=settings.relay_batch))
                spawn("recorder", lambda: recorder.run(pool, js, stop, batch=settings.recorder_batch))
                spawn("read_model", lambda: projection.run(pool, ReadModel(), stop, dsn=settings.database_url))
                spawn("identity", lambda: projection.run(pool, IDENTITY, stop, dsn=settings.database_url))
                spawn("scheduler", lambda: scheduler.run(stop))
                supervisor = Supervisor(pool, registry, clk, org_id=settings.org_id)
                spawn("supervisor", lambda: supervisor.run(stop))
                spawn("shares", lambda: services.shares.run(stop))
            log.info("api.started", version=__version__, workers=settings.run_workers)
            try:
                yield
            finally:
                stop.set()
                _, pending = await asyncio.wait(services.tasks, timeout=settings.shutdown_grace)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    app = Litestar(
        route_handlers=[
            WorkspaceController,
            TemplateController,
            HostController,
            AuditController,
            AuthController,
            UserController,
            OrgController,
            InvitationController,
            health,
            problem_type,
            openapi_json,
            *REACH_ROUTES,
        ],
        guards=[guard],
        lifespan=[lifespan],
        dependencies={
            "services": Provide(_services, sync_to_thread=False),
            "workspaces": Provide(_workspaces, sync_to_thread=False),
            "templates": Provide(_templates, sync_to_thread=False),
            "identity": _dep("identity"),
            "accounts": _dep("accounts"),
            "orgs": _dep("orgs"),
            "login": _dep("login"),
            "settings": _dep("settings"),
        },
        middleware=[DefineMiddleware(Authenticator, exclude=["^/api/v1/schema"])],
        exception_handlers={Exception: problems.handle},
        # a span per body chunk or WebSocket frame would flood traces (and cost per frame on
        # the proxy); so would a span per asset of an app behind it (a workbench load is
        # dozens): the apps' own traffic is not traced, everything WWS does is
        plugins=[
            OpenTelemetryPlugin(
                OpenTelemetryConfig(
                    exclude_spans=["receive", "send"],
                    exclude=[r"^/api/v1/workspaces/[^/]+/(ide|ports/\d+)(/|$)", r"^/api/v1/shares/"],
                )
            )
        ],
        openapi_config=OpenAPIConfig(
            title="WWS API",
            version=__version__,
            description="Remote workspaces on your own hosts; every change is an event in an auditable log.",
            path="/api/v1/schema",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", description="WWS API token")}
            ),
            security=[{"bearer": []}],
        ),
        state=State(
            {
                "bootstrap_token": settings.admin_token.reveal() if settings.admin_token else None,
                "trusted_proxies": frozenset(p.strip() for p in settings.trusted_proxies.split(",") if p.strip()),
                "org_id": settings.org_id,
            }
        ),
        debug=False,
        logging_config=None,
    )
    check_routes(
        [h for route in app.routes if isinstance(route, HTTPRoute) for h in route.route_handlers]
        + [route.route_handler for route in app.routes if isinstance(route, ASGIRoute)]
    )
    if settings.wildcard_domain:
        app.asgi_handler = subdomains.routing(app.asgi_handler, settings.wildcard_domain)
    return app
