"""Publishes this agent's events to ``WWS_EVT`` with deterministic ids, so a retried
handler's events are dropped as duplicates by JetStream and by the recorder."""

from __future__ import annotations

import uuid

import structlog
from nats.js import JetStreamContext

from wws_events import Actor, AnyEvent, encode, new_envelope, subjects, tag_of
from wws_events.ids import event_id
from wws_service import bus, tracing
from wws_service.clock import Clock

log = structlog.get_logger("wws.agent.emitter")


class Emitter:
    def __init__(self, js: JetStreamContext, host_id: str, org_id: str, clock: Clock, version: str) -> None:
        self.js = js
        self.host_id = host_id
        self.org_id = org_id
        self.clock = clock
        self.actor = Actor(type="service", id=f"agent:{host_id}", display=f"wws-provisioner {version}")

    async def emit(
        self,
        data: AnyEvent,
        *,
        stream_id: str,
        cause: uuid.UUID | str,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        org_id: str | None = None,
        reason: str | None = None,
        n: int = 0,
    ) -> uuid.UUID:
        """Publish one event; ``cause`` + type + ``n`` fix its id."""
        tag = tag_of(type(data))
        eid = event_id(cause, tag, n)
        env = new_envelope(
            data,
            event_id=eid,
            stream_id=stream_id,
            occurred_at=self.clock.now(),
            org_id=org_id or self.org_id,
            actor=self.actor,
            correlation_id=correlation_id or eid,
            causation_id=causation_id,
            host_id=self.host_id,
            reason=reason,
            traceparent=tracing.current_traceparent(),
        )
        headers = {subjects.HEADER_EVENT_TYPE: tag}
        if env.traceparent:
            headers[subjects.HEADER_TRACEPARENT] = env.traceparent
        await bus.publish(
            self.js,
            subjects.event_subject(env.stream_type, stream_id),
            encode(env),
            msg_id=str(eid),
            headers=headers,
            attempts=10,
        )
        log.info("agent.event", type=tag, stream_id=stream_id, event_id=str(eid))
        return eid
