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

from arca.settings import OpsSettings

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


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (see the module docstring for the fields)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": getattr(record, "service", None) or current_service.get() or self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None) or correlation_id.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = _jsonable(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


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
    logging.getLogger("pika").setLevel(logging.WARNING)
