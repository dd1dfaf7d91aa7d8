"""IDE ports: each workspace on this host keeps one loopback port from the configured range
for its life (stable across restarts and agent restarts), recorded in KV with
compare-and-set so two agents never hand out the same port."""

from __future__ import annotations

import socket
import uuid

import msgspec
import nats
from nats.js.kv import KeyValue

from wws_events import subjects


class PortsExhausted(Exception):
    pass


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortAllocator:
    def __init__(self, kv: KeyValue, host_id: str, span: str) -> None:
        low, _, high = span.partition("-")
        self.low, self.high = int(low), int(high)
        self.kv = kv
        self.key = f"{subjects.agent_state_key(host_id, 'ports')}"

    async def _load(self) -> tuple[dict[str, int], int]:
        try:
            entry = await self.kv.get(self.key)
        except nats.js.errors.KeyNotFoundError:
            return {}, 0
        data = msgspec.json.decode(entry.value or b"{}", type=dict[str, int])
        return data, entry.revision or 0

    async def _save(self, data: dict[str, int], revision: int) -> bool:
        try:
            if revision == 0:
                await self.kv.create(self.key, msgspec.json.encode(data))
            else:
                await self.kv.update(self.key, msgspec.json.encode(data), last=revision)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyValueError):
            return False
        return True

    async def allocate(self, workspace_id: uuid.UUID) -> int:
        for _ in range(20):
            data, revision = await self._load()
            if (port := data.get(str(workspace_id))) is not None:
                return port
            taken = set(data.values())
            port = next((p for p in range(self.low, self.high + 1) if p not in taken and _free(p)), None)
            if port is None:
                raise PortsExhausted(f"no free IDE port left in {self.low}-{self.high}")
            if await self._save({**data, str(workspace_id): port}, revision):
                return port
        raise PortsExhausted("could not record an IDE port (too much contention)")

    async def release(self, workspace_id: uuid.UUID) -> None:
        for _ in range(20):
            data, revision = await self._load()
            if str(workspace_id) not in data:
                return
            data.pop(str(workspace_id))
            if await self._save(data, revision):
                return

    async def assigned(self, workspace_id: uuid.UUID) -> int | None:
        return (await self._load())[0].get(str(workspace_id))
