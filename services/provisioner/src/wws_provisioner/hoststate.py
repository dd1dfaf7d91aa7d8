"""What this agent keeps per workspace beyond the container: the devcontainer decision
(KV, so a lost container comes back with its devcontainer image) and the secrets it asks
the control plane for at each start."""

from __future__ import annotations

import contextlib
import uuid

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from wws_events import subjects
from wws_events.host import SecretsReply, SecretsRequest
from wws_provisioner.errors import SecretsUnavailable
from wws_provisioner.plan import DevcontainerState

_dc = msgspec.json.Decoder(DevcontainerState)
_reply = msgspec.json.Decoder(SecretsReply)


class DevcontainerStore:
    def __init__(self, kv: KeyValue, host_id: str) -> None:
        self.kv = kv
        self.host_id = host_id

    def _key(self, workspace_id: uuid.UUID) -> str:
        return f"{subjects.agent_state_key(self.host_id, str(workspace_id))}.dc"

    async def get(self, workspace_id: uuid.UUID) -> DevcontainerState | None:
        try:
            entry = await self.kv.get(self._key(workspace_id))
        except nats.js.errors.KeyNotFoundError:
            return None
        return _dc.decode(entry.value) if entry.value else None

    async def put(self, workspace_id: uuid.UUID, state: DevcontainerState) -> None:
        await self.kv.put(self._key(workspace_id), msgspec.json.encode(state))

    async def delete(self, workspace_id: uuid.UUID) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await self.kv.delete(self._key(workspace_id))


class SecretsClient:
    """Asks ``wws.ctl.secrets.<host>``; the values live only in memory until written to the
    workspace's tmpfs directory."""

    def __init__(self, nc: NatsClient, host_id: str) -> None:
        self.nc = nc
        self.subject = subjects.secrets_request(host_id)

    async def fetch(self, workspace_id: uuid.UUID) -> dict[str, str]:
        payload = msgspec.json.encode(SecretsRequest(workspace_id=workspace_id))
        try:
            msg = await self.nc.request(self.subject, payload, timeout=10)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError) as exc:
            raise SecretsUnavailable("the control plane did not answer for the workspace's secrets") from exc
        reply = _reply.decode(msg.data)
        if reply.error:
            raise SecretsUnavailable(f"the control plane refused the workspace's secrets: {reply.error}")
        return dict(reply.values)
