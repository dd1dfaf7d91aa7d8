"""The command loop: a durable pull consumer on ``wws.cmd.host.<host_id>``.

Per order: decode → guard (host, staleness, deadline) → ``operation_started`` →
runner → one outcome event → remember the applied ``seq`` → ``ack_sync``. Orders for
one workspace run one at a time, in arrival order; different workspaces in parallel.
Anything short of the ack is safe to repeat: the runtime is idempotent and event ids are
deterministic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from contextlib import suppress

import msgspec
import nats
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue
from opentelemetry import trace

from wws_events import CommandEnvelope, RawCommand, decode_command, subjects
from wws_events import workspace as w
from wws_events.workspace import ErrorInfo
from wws_provisioner import runner
from wws_provisioner.emitter import Emitter
from wws_provisioner.runner import Operations
from wws_service import tracing
from wws_service.clock import Clock

log = structlog.get_logger("wws.agent")
_tracer = tracing.tracer("wws.agent")


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    """What the agent last carried out for a workspace (KV ``wws_agent_state``)."""

    seq: int
    command_id: uuid.UUID


_applied = msgspec.json.Decoder(Applied)


class Agent:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        operations: Operations,
        emitter: Emitter,
        state: KeyValue,
        host_id: str,
        clock: Clock,
        ack_wait: float,
        max_deliver: int,
        concurrency: int,
    ) -> None:
        self.js = js
        self.operations = operations
        self.emitter = emitter
        self.state = state
        self.host_id = host_id
        self.clock = clock
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.concurrency = concurrency
        self._locks: defaultdict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._slots = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def durable(self) -> str:
        return subjects.agent_durable(self.host_id)

    async def ensure_consumer(self) -> None:
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=subjects.host_commands(self.host_id),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=self.concurrency * 4,
        )
        await self.js.add_consumer(subjects.CMD_STREAM, config)

    async def run(self, stop: asyncio.Event, grace: float) -> None:
        await self.ensure_consumer()
        sub = await self.js.pull_subscribe_bind(self.durable, stream=subjects.CMD_STREAM)
        log.info("agent.consuming", durable=self.durable)
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._inflight)
                if free <= 0:
                    await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
                    continue
                try:
                    msgs = await sub.fetch(batch=free, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except nats.errors.Error as exc:
                    log.warning("agent.fetch_failed", error=str(exc))
                    await asyncio.sleep(1.0)
                    continue
                for msg in msgs:
                    task = asyncio.create_task(self.handle(msg))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
        finally:
            if self._inflight:
                _, pending = await asyncio.wait(self._inflight, timeout=grace)
                for task in pending:  # unacked: JetStream redelivers after ack_wait
                    task.cancel()
            with suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def handle(self, msg: Msg) -> None:
        """One delivery; an unexpected error leaves it un-acked and asks for a redelivery."""
        try:
            await self._deliver(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("agent.delivery_failed", seq=msg.metadata.sequence.stream)
            with suppress(nats.errors.Error):
                await msg.nak(delay=min(self.ack_wait, 5.0))

    async def _deliver(self, msg: Msg) -> None:
        try:
            cmd = decode_command(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("agent.poison_order", error=str(exc), seq=msg.metadata.sequence.stream)
            await msg.term()
            return
        if isinstance(cmd, RawCommand):
            await self._reject(cmd, "unknown_command", f"unknown order {cmd.type!r}; is this agent up to date?")
            await msg.ack_sync()
            return
        parent = tracing.context_from((msg.headers or {}).get(subjects.HEADER_TRACEPARENT) or cmd.traceparent)
        async with self._locks[cmd.workspace_id]:
            with _tracer.start_as_current_span(
                f"agent.{cmd.type}",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={"wws.command_id": str(cmd.command_id), "wws.workspace_id": str(cmd.workspace_id)},
            ):
                structlog.contextvars.bind_contextvars(
                    command_id=str(cmd.command_id), workspace_id=str(cmd.workspace_id)
                )
                try:
                    await self._handle(msg, cmd)
                finally:
                    structlog.contextvars.unbind_contextvars("command_id", "workspace_id")

    async def _handle(self, msg: Msg, cmd: CommandEnvelope) -> None:
        key = subjects.agent_state_key(self.host_id, str(cmd.workspace_id))
        applied = await self._applied(key)
        if cmd.host_id != self.host_id:
            await self._reject(cmd, "wrong_host", f"order for host {cmd.host_id} reached {self.host_id}")
            await msg.ack_sync()
            return
        if applied is not None and cmd.seq < applied.seq:
            await self._reject(cmd, "stale", f"order at version {cmd.seq} is older than applied {applied.seq}")
            await msg.ack_sync()
            return
        if self.clock.now() > cmd.deadline and (applied is None or applied.command_id != cmd.command_id):
            await self._reject(cmd, "expired", f"order deadline {cmd.deadline.isoformat()} has passed")
            await msg.ack_sync()
            return
        op = runner.operation(cmd.data)
        ticker = asyncio.create_task(self._keep_alive(msg))
        try:
            await self._emit(cmd, w.WorkspaceOperationStarted(command_id=cmd.command_id, operation=op))

            async def progress(event: w.WorkspaceRestartStopped) -> None:
                await self._emit(cmd, event)

            outcome = await self.operations.execute(cmd, progress)
            await self._emit(cmd, outcome, reason=outcome.error.message if isinstance(outcome, w.Failed) else None)
            await self.state.put(key, msgspec.json.encode(Applied(seq=cmd.seq, command_id=cmd.command_id)))
        finally:
            ticker.cancel()
            with suppress(asyncio.CancelledError):
                await ticker
        await msg.ack_sync()
        log.info("agent.done", operation=op, outcome=type(outcome).__name__)

    async def _keep_alive(self, msg: Msg) -> None:
        """In-progress acks while a long operation runs, so JetStream does not redeliver."""
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with suppress(nats.errors.Error):
                await msg.in_progress()

    async def _applied(self, key: str) -> Applied | None:
        try:
            entry = await self.state.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return _applied.decode(entry.value)

    async def _emit(self, cmd: CommandEnvelope, data: w.WorkspaceEvent, reason: str | None = None) -> None:
        await self.emitter.emit(
            data,
            stream_id=str(cmd.workspace_id),
            cause=cmd.command_id,
            correlation_id=cmd.correlation_id,
            causation_id=cmd.command_id,
            org_id=cmd.org_id,
            reason=reason,
        )

    async def _reject(self, cmd: CommandEnvelope | RawCommand, code: str, message: str) -> None:
        log.warning("agent.rejected", code=code, message=message, command_id=str(cmd.command_id))
        await self.emitter.emit(
            w.WorkspaceCommandRejected(command_id=cmd.command_id, error=ErrorInfo(code=code, message=message)),
            stream_id=str(cmd.workspace_id),
            cause=cmd.command_id,
            correlation_id=cmd.correlation_id,
            causation_id=cmd.command_id,
            org_id=cmd.org_id,
            reason=message,
        )
