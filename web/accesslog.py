"""Structured logs: one JSON line per request (request id, method, path, status, latency) and per error.

Every request gets an id (the proxy's X-Request-ID when it sends a sane one, else a new
one), returned in the X-Request-ID header and attached to every log line written while the
request runs, so an error's traceback can be matched with its access line. The query string
is not logged (it holds the question), nor the client address: the server's logs, like its
database, keep nothing about the person.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
ACCESS_LOGGER = "policy_qa.access"
_ACCESS_FIELDS = ("method", "path", "status", "latency_ms")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

access_logger = logging.getLogger(ACCESS_LOGGER)


def _stamp_request_ids() -> None:
    """Every log record made while a request runs carries its id (read when the record is made, not formatted)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "stamps_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_stamp_request_ids()


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The incoming X-Request-ID when it is a plain token of 8–64 characters, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex[:16]


class AccessLogMiddleware:
    """Gives each HTTP request an id and logs one access line when it ends (500 when it raised)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        # Left set after the request: the error handler outside this middleware logs with it.
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            fields = {"method": scope.get("method", ""), "path": scope.get("path", ""), "status": status, "latency_ms": latency_ms}
            access_logger.info("%s %s %s %.1fms", fields["method"], fields["path"], status, latency_ms, extra=fields)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, access fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            entry["request_id"] = request_id
        for key in _ACCESS_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A logging configuration (uvicorn's `log_config`): every logger as JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        # The handler's level too: bm25s sets its own logger to DEBUG when imported.
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr", "level": level}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
            # Library chatter at start-up: which CPU build of faiss was loaded.
            "faiss": {"level": "WARNING"},
        },
    }
