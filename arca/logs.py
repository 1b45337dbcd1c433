"""Logging setup: one JSON object per line, carrying the service name and correlation id.

Each line is ``{"ts", "level", "service", "logger", "msg", "correlation_id", ...extra}``: the
correlation id is the one of the stimulus being served (the bus sets ``correlation_id`` around
each handler call; a log call may pass ``extra={"correlation_id": ...}`` to name another one, as
``arca.service`` does for the messages a service publishes). ``service`` is the service whose
handler or tick is running (``current_service``), else the one named at setup, so the lines of
``arca demo`` (four services in one process) still say which stage wrote them. Any other
``extra=`` field is added to the object as is (``kind``, ``message_id``, ``duration_ms``...).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from arca.config import OpsSettings

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
"""Correlation id of the stimulus being served (set by the bus around each handler call)."""

current_service: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_service", default=None
)
"""Name of the service whose handler/tick is running (set by ``arca.service``)."""

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "correlation_id", "service"}
)


_PLAIN = (str, int, float, bool, type(None))

_encode_json = json.JSONEncoder(default=str, check_circular=False).encode


def _jsonable(value: Any) -> Any:
    return value if type(value) in _PLAIN else str(value)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (see the module docstring for the fields)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._second = -1
        self._prefix = ""

    def timestamp(self, created: float) -> str:
        """ISO 8601 UTC with microseconds; the part up to the second is formatted once a second."""
        second = int(created)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1e6):06d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        doc: dict[str, Any] = {
            "ts": self.timestamp(record.created),
            "level": record.levelname,
            "service": fields.get("service") or current_service.get() or self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "correlation_id": fields.get("correlation_id") or correlation_id.get(),
        }
        for key in fields:  # the ``extra=`` fields, in the order given
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = _jsonable(fields[key])
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _encode_json(doc)


class TextFormatter(logging.Formatter):
    """Human-readable lines that still carry the service and correlation id."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        service = getattr(record, "service", None) or current_service.get() or self.service
        cid = getattr(record, "correlation_id", None) or correlation_id.get() or "-"
        return f"{super().format(record)} [{service} {cid}]"


def setup_logging(ops: OpsSettings, service: str = "arca", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as JSON lines (or text if ``log_json`` is off)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service) if ops.log_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(ops.log_level.upper())
    # the lines carry none of these: skip looking up the caller's frame, thread and process per record
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.getLogger("pika").setLevel(logging.WARNING)
