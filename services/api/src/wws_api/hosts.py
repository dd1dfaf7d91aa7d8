"""Live view of host agents, fed by the ``wws_hosts`` KV bucket (heartbeats with TTL)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import msgspec
import nats
import structlog
from nats.js import JetStreamContext

from wws_events.host import HostHeartbeat
from wws_service import bus
from wws_service.clock import Clock

log = structlog.get_logger("wws.hosts")
_beat = msgspec.json.Decoder(HostHeartbeat)


class HostRegistry:
    """Latest heartbeat per host. A host is live while its last beat is younger than ``ttl``."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self.ttl = timedelta(seconds=ttl)
        self._beats: dict[str, HostHeartbeat] = {}
        self.changed = asyncio.Event()

    def update(self, beat: HostHeartbeat) -> None:
        previous = self._beats.get(beat.host_id)
        self._beats[beat.host_id] = beat
        if previous is None or not self.is_live(previous.host_id):
            log.info("host.live", host_id=beat.host_id)
        self.changed.set()

    def forget(self, host_id: str) -> None:
        self._beats.pop(host_id, None)
        self.changed.set()

    def get(self, host_id: str) -> HostHeartbeat | None:
        return self._beats.get(host_id)

    def is_live(self, host_id: str, now: datetime | None = None) -> bool:
        beat = self._beats.get(host_id)
        return beat is not None and (now or self._clock.now()) - beat.sent_at < self.ttl

    def live(self) -> list[HostHeartbeat]:
        now = self._clock.now()
        return [b for b in self._beats.values() if now - b.sent_at < self.ttl]

    def all(self) -> list[HostHeartbeat]:
        return list(self._beats.values())

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        """Follow the bucket until ``stop``; re-subscribes after errors."""
        while not stop.is_set():
            try:
                kv = await bus.hosts_bucket(js, ttl=self.ttl.total_seconds())
                watcher = await kv.watchall()
                while not stop.is_set():
                    try:
                        entry = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
                    except (nats.errors.TimeoutError, TimeoutError):
                        continue
                    if entry is None or entry.value is None:
                        continue
                    if entry.operation in ("DEL", "PURGE"):
                        self.forget(entry.key)
                        continue
                    try:
                        self.update(_beat.decode(entry.value))
                    except msgspec.DecodeError:
                        log.warning("host.bad_heartbeat", key=entry.key)
                await watcher.stop()  # type: ignore[no-untyped-call]
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.warning("hosts.watch_failed", error=str(exc))
                await asyncio.sleep(1.0)
