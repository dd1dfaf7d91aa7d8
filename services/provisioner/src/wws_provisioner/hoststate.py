"""What this agent keeps per workspace beyond the container: the devcontainer decision
(KV, so a lost container comes back with its devcontainer image) and the secrets it asks
the control plane for at each start (the workspace's own, and its owner's)."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from wws_events import subjects
from wws_events.host import InjectedSecret, SecretsReply, SecretsRequest
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


@dataclass(frozen=True, repr=False)
class StartSecrets:
    """Everything secret a workspace gets at one start. Its repr names the secrets only:
    it may end up in a log line or a traceback."""

    workspace: dict[str, str] = field(default_factory=dict)
    """The workspace's own secrets by file name (the repository token: ``git-token``)."""
    user: tuple[InjectedSecret, ...] = ()
    """The owner's secrets, injected as environment variables or files."""

    def __repr__(self) -> str:
        return f"StartSecrets(workspace={sorted(self.workspace)}, user={[s.name for s in self.user]})"


NO_SECRETS = StartSecrets()


class SecretsClient:
    """Asks ``wws.ctl.secrets.<host>``; the values live only in memory until written to the
    workspace's tmpfs directory."""

    def __init__(self, nc: NatsClient, host_id: str) -> None:
        self.nc = nc
        self.subject = subjects.secrets_request(host_id)

    async def fetch(self, workspace_id: uuid.UUID) -> StartSecrets:
        payload = msgspec.json.encode(SecretsRequest(workspace_id=workspace_id))
        try:
            msg = await self.nc.request(self.subject, payload, timeout=10)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError) as exc:
            raise SecretsUnavailable("the control plane did not answer for the workspace's secrets") from exc
        try:
            reply = _reply.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            # the decoder's message may quote the offending field, which can be a value
            raise SecretsUnavailable("the control plane's answer with the secrets could not be read") from None
        if reply.error:
            raise SecretsUnavailable(f"the control plane refused the workspace's secrets: {reply.error}")
        return StartSecrets(workspace=dict(reply.values), user=tuple(reply.user_secrets))
