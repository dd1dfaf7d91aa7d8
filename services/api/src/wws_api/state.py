"""The objects one API process shares between requests and background workers."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from wws_api.accounts import Accounts
from wws_api.gatewaykeys import GatewaySigner
from wws_api.hosts import HostRegistry
from wws_api.identity import Identity
from wws_api.login import Login
from wws_api.orgs import OrgService
from wws_api.ratelimit import RateLimits
from wws_api.reach import Reach
from wws_api.scheduler import Scheduler
from wws_api.service import WorkspaceService
from wws_api.settings import ApiSettings
from wws_api.shares import ShareService
from wws_api.templates import TemplateService
from wws_api.waiter import ReadModelWaiter
from wws_service.clock import Clock


class AppServices(msgspec.Struct, kw_only=True):
    settings: ApiSettings
    clock: Clock
    pool: asyncpg.Pool
    nc: NatsClient
    js: JetStreamContext
    registry: HostRegistry
    scheduler: Scheduler
    waiter: ReadModelWaiter
    workspaces: WorkspaceService
    templates: TemplateService
    identity: Identity
    accounts: Accounts
    orgs: OrgService
    login: Login
    rate_limits: RateLimits
    shares: ShareService
    gateway: GatewaySigner
    reach: Reach
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]
