"""structlog configured directly: JSON lines via msgspec, no locals in tracebacks."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog
from opentelemetry import trace
from structlog.tracebacks import ExceptionDictTransformer

_encoder = msgspec.json.Encoder(enc_hook=repr)


def _dumps(obj: object, **_: object) -> bytes:
    return _encoder.encode(obj)


def _add_trace_ids(_: object, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    return event


def configure(*, service: str, level: str = "info", fmt: str = "json") -> None:
    """Configure structlog and route stdlib loggers (uvicorn, asyncpg, nats) through it."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    if fmt == "json":
        renderer: list[Any] = [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
        factory: Any = structlog.BytesLoggerFactory(sys.stdout.buffer)
    else:
        # never render local variables: they hold tokens and passwords
        renderer = [
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False))
        ]
        factory = structlog.PrintLoggerFactory(sys.stdout)
    structlog.configure(
        processors=[*shared, *renderer],
        logger_factory=factory,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service, node=socket.gethostname())

    # stdlib records (uvicorn, asyncpg, nats) become the same JSON lines
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *(
                    [structlog.processors.JSONRenderer()]
                    if fmt == "json"
                    else [
                        structlog.dev.ConsoleRenderer(
                            colors=False, exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
                        )
                    ]
                ),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("uvicorn.error", "wws"):
        logging.getLogger(name).setLevel(logging.getLevelName(level.upper()))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
