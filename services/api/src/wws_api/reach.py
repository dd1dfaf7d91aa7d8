"""Reaching a workspace: find the host that runs it, sign a gateway token for this one
request or connection, and proxy to that host's gateway (``wws_events.gateway``). The
access guard has already decided *whether*; this decides *where*."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpcore
import msgspec
from websockets.asyncio.client import ClientConnection

from wws_api.access import WORKSPACE_ROW
from wws_api.gatewaykeys import GatewaySigner
from wws_api.hosts import HostRegistry
from wws_events.gateway import TOKEN_TTL_S
from wws_proxy import connect_upstream, deny_websocket, forward_http, forward_ws, forwarded_headers, send_problem

Scope = dict[str, Any]


class Unreachable(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID
    org_id: str
    host_id: str
    address: str


def _gateway_url(t: Target, path: str, scope: Scope) -> str:
    """``/w/<workspace>/<path>`` on the target's gateway, with the client's query."""
    query = scope.get("query_string", b"")
    return f"{t.address.rstrip('/')}/w/{t.workspace_id}/{path.lstrip('/')}" + (
        "?" + query.decode("latin-1") if query else ""
    )


class Reach:
    def __init__(self, pool: Any, registry: HostRegistry, signer: GatewaySigner) -> None:
        self.pool = pool
        self.registry = registry
        self.signer = signer
        self._tokens: dict[tuple[str, str, str, uuid.UUID, str], tuple[bytes, float]] = {}
        # one keep-alive pool to every gateway: a proxied request costs no new connection
        self.upstream = httpcore.AsyncConnectionPool(
            max_connections=512, keepalive_expiry=30.0, http1=True, http2=False
        )

    async def close(self) -> None:
        await self.upstream.aclose()

    async def target(self, workspace_id: uuid.UUID, row: Any = None) -> Target:
        """Where the workspace runs (``row``: its read-model row, when the caller has it)."""
        if row is None:
            row = await self.pool.fetchrow(
                "SELECT org_id, status, state->>'host_id' AS host_id FROM api_workspaces WHERE workspace_id = $1",
                workspace_id,
            )
        if row is None or row["status"] == "deleted":
            raise Unreachable(404, "workspace not found")
        if row["status"] != "running" or not row["host_id"]:
            raise Unreachable(409, f"the workspace is {row['status']}, not running")
        beat = self.registry.get(row["host_id"])
        if beat is None or not self.registry.is_live(row["host_id"]):
            raise Unreachable(503, f"the workspace's host {row['host_id']} is not reachable now")
        if not beat.address:
            raise Unreachable(503, f"the workspace's host {row['host_id']} runs no access gateway")
        return Target(workspace_id=workspace_id, org_id=row["org_id"], host_id=row["host_id"], address=beat.address)

    def _token(self, t: Target, subject: str, scope_name: str) -> bytes:
        """A gateway token for this request; one minted for the same user, workspace, host
        and scope is reused for the first half of its life (an IDE page loads dozens of
        assets: one signature, and one check at the gateway, instead of one each)."""
        key = (t.host_id, subject, t.org_id, t.workspace_id, scope_name)
        now = time.time()
        cached = self._tokens.get(key)
        if cached is not None and cached[1] - now > TOKEN_TTL_S / 2:
            return cached[0]
        token = self.signer.mint(
            host_id=t.host_id, subject=subject, org_id=t.org_id, workspace_id=t.workspace_id, scope=scope_name
        )
        value = f"Bearer {token}".encode()
        if len(self._tokens) > 10_000:
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
        self._tokens[key] = (value, now + TOKEN_TTL_S)
        return value

    async def http(
        self,
        scope: Scope,
        receive: Any,
        send: Any,
        *,
        workspace_id: uuid.UUID,
        subject: str,
        scope_name: str,
        path: str,
        client_ip: str | None,
        response_headers: Any = None,
    ) -> int:
        """Forward an HTTP request to ``/w/<workspace>/<path>`` on the workspace's gateway."""
        try:
            t = await self.target(workspace_id, scope.get(WORKSPACE_ROW))
        except Unreachable as exc:
            await send_problem(send, exc.status, exc.message)
            return exc.status
        url = _gateway_url(t, path, scope)
        headers = [(b"authorization", self._token(t, subject, scope_name)), *forwarded_headers(scope, client_ip)]
        # the browser's credentials for WWS stay here: the workspace never sees them
        return await forward_http(
            scope,
            receive,
            send,
            pool=self.upstream,
            url=url,
            headers=headers,
            drop=(b"authorization", b"cookie", b"x-csrf-token"),
            response_headers=response_headers,
        )

    async def websocket(
        self,
        scope: Scope,
        receive: Any,
        send: Any,
        *,
        workspace_id: uuid.UUID,
        subject: str,
        scope_name: str,
        path: str,
        client_ip: str | None,
        on_client_frame: Any = None,
    ) -> None:
        try:
            t = await self.target(workspace_id, scope.get(WORKSPACE_ROW))
        except Unreachable as exc:
            await receive()
            await deny_websocket(scope, send, exc.status, exc.message)
            return
        url = _gateway_url(t, path, scope).replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        forwarded = forwarded_headers(scope, client_ip)
        token = self._token(t, subject, scope_name)

        async def connect() -> ClientConnection:
            # the browser's credentials for WWS stay here: the workspace never sees them
            drop = (b"authorization", b"cookie", b"x-csrf-token", *(k for k, _ in forwarded))
            return await connect_upstream(url, scope, drop=drop, extra=[*forwarded, (b"authorization", token)])

        await forward_ws(scope, receive, send, connect=connect, on_client_frame=on_client_frame)
