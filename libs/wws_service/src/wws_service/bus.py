"""NATS JetStream set-up shared by every service: connection, streams, buckets, and a
publish that retries with the same ``Nats-Msg-Id`` (nats-py does not retry by itself)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from wws_events import subjects

log = structlog.get_logger("wws.bus")

CMD_STREAM_CONFIG = StreamConfig(
    name=subjects.CMD_STREAM,
    subjects=[subjects.CMD_SUBJECTS],
    retention=RetentionPolicy.WORK_QUEUE,
    storage=StorageType.FILE,
    discard=DiscardPolicy.NEW,
    max_age=24 * 3600,
    duplicate_window=600,
    max_msg_size=256 * 1024,
    num_replicas=1,
)
EVT_STREAM_CONFIG = StreamConfig(
    name=subjects.EVT_STREAM,
    subjects=[subjects.EVT_SUBJECTS],
    retention=RetentionPolicy.LIMITS,
    storage=StorageType.FILE,
    max_age=7 * 24 * 3600,
    duplicate_window=600,
    max_msg_size=1024 * 1024,
    deny_delete=True,
    deny_purge=True,
    num_replicas=1,
)


@asynccontextmanager
async def connect(url: str, *, name: str) -> AsyncIterator[NatsClient]:
    """A connection that retries forever while the server is away and drains on exit."""

    async def _error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    async def _disconnected() -> None:
        log.warning("nats.disconnected")

    async def _reconnected() -> None:
        log.info("nats.reconnected")

    nc = await nats.connect(
        servers=[u.strip() for u in url.split(",") if u.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=_error,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
    )
    try:
        yield nc
    finally:
        if not nc.is_closed:
            try:
                await asyncio.wait_for(nc.drain(), 5)
            except (TimeoutError, nats.errors.Error):
                await nc.close()


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream or bring its mutable settings up to date."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("bus.stream_created", stream=config.name)
        return
    await js.update_stream(config)


async def ensure_streams(js: JetStreamContext) -> None:
    await ensure_stream(js, CMD_STREAM_CONFIG)
    await ensure_stream(js, EVT_STREAM_CONFIG)


async def hosts_bucket(js: JetStreamContext, ttl: float) -> KeyValue:
    """The heartbeat bucket; ``ttl`` makes a host that stops beating vanish."""
    try:
        return await js.key_value(subjects.HOSTS_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(bucket=subjects.HOSTS_BUCKET, history=1, ttl=ttl, storage=StorageType.FILE)
        )


async def agent_state_bucket(js: JetStreamContext) -> KeyValue:
    """Per-host memory of the newest command applied to each workspace (stale-order guard)."""
    try:
        return await js.key_value(subjects.AGENT_STATE_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(bucket=subjects.AGENT_STATE_BUCKET, history=1, storage=StorageType.FILE)
        )


async def gateway_bucket(js: JetStreamContext) -> KeyValue:
    """The public keys gateways check the API's tokens with (``wws_events.gateway``)."""
    from wws_events.gateway import GATEWAY_BUCKET

    try:
        return await js.key_value(GATEWAY_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=GATEWAY_BUCKET, history=1, storage=StorageType.FILE))


async def publish(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    msg_id: str,
    headers: Mapping[str, str] | None = None,
    attempts: int = 6,
    timeout: float = 5.0,
) -> tuple[int, bool]:
    """Publish with de-duplication; returns (stream sequence, duplicate). Retries reuse
    ``msg_id`` so a retry inside the duplicate window can never store twice."""
    hdrs = {subjects.HEADER_MSG_ID: msg_id, **(headers or {})}
    delay = 0.25
    for attempt in range(1, attempts + 1):
        try:
            ack = await js.publish(subject, payload, timeout=timeout, headers=hdrs)
            return ack.seq, bool(ack.duplicate)
        except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError, nats.errors.ConnectionClosedError):
            if attempt == attempts:
                raise
            log.warning("bus.publish_retry", subject=subject, attempt=attempt)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)
    raise AssertionError("unreachable")
