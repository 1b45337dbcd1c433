"""The collector's front desk: raw input in, bus messages (or a counted refusal) out.

``Ingestor`` holds the little state ingestion needs (duplicate/sequence memory, severity scales),
applies the pure parsers of the adapter modules, counts every refusal by input and reason in
``arca_messages_rejected_total{service="collector", reason="<input>:<reason>"}`` and hands accepted
messages to ``publish``. It is thread-safe (HTTP threads, AMQP consumer threads, the tick).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arca.messages import Message
from arca.metrics import MESSAGES_REJECTED
from collector import cap, nova, osm
from collector.errors import IngestError
from collector.events import ENVELOPE, NOTIFICATION, EventTracker, parse_notification, to_external_event
from collector.settings import CollectorSettings
from collector.severity import SeverityScales

log = logging.getLogger(__name__)

Publish = Callable[[Message], None]


@dataclass
class Outcome:
    """What happened to one accepted input."""

    status: str  # "accepted" | "duplicate" | "ignored"
    messages: list[Message] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "messages": [m.message_id for m in self.messages],
                "flags": self.flags}


def _source_of(doc: Any) -> str | None:
    try:
        source = doc[ENVELOPE][NOTIFICATION]["source"]
    except (KeyError, TypeError):
        return None
    return source if isinstance(source, str) else None


class Ingestor:
    """Turns detector events, CAP alerts, Nova notifications and OSM webhooks into messages."""

    def __init__(
        self,
        settings: CollectorSettings,
        publish: Publish,
        scales: SeverityScales | None = None,
        producer: str = "collector",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.scales = scales or SeverityScales()
        self.producer = producer
        self.tracker = EventTracker(settings.duplicate_memory)
        self.lifecycle = nova.LifecycleTracker()
        self.cap_memory = cap.CapMemory(settings.duplicate_memory)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.sequence_regressions: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def scale(self) -> tuple[int, int]:
        return (self.settings.severity_min, self.settings.severity_max)

    def reject(self, channel: str, exc: IngestError) -> IngestError:
        """Count a refusal (and log it); returns the error for the caller to answer with."""
        MESSAGES_REJECTED.labels(service="collector", reason=f"{channel}:{exc.reason}").inc()
        with self._lock:
            self.rejections[(channel, exc.reason)] += 1
        log.warning("refused %s input (%s): %s", channel, exc.reason, exc)
        return exc

    def _guard(self, channel: str, fn: Callable[[], Outcome]) -> Outcome:
        try:
            return fn()
        except IngestError as exc:
            raise self.reject(channel, exc) from None

    # --- auth ---------------------------------------------------------------------------------
    def check_token(self, doc: Any, bearer: str | None) -> None:
        """Per-source bearer tokens (when configured): 401 without a token, 403 with a wrong one."""
        tokens: Mapping[str, str] = self.settings.http_tokens
        if not tokens:
            return
        if not bearer:
            raise IngestError("unauthenticated", "Authorization", "a bearer token is required", status=401)
        source = _source_of(doc)
        expected = tokens.get(source or "")
        if expected is None or not hmac.compare_digest(expected.encode(), bearer.encode()):
            raise IngestError(
                "forbidden", f"/{ENVELOPE}/{NOTIFICATION}/source",
                f"the token is not valid for source {source!r}", status=403,
            )

    # --- detector events ----------------------------------------------------------------------
    def detector_event(self, doc: Any, channel: str = "event") -> Outcome:
        """Validate, map and publish one RESTCONF JSON notification (parsed JSON or raw bytes)."""
        return self._guard(channel, lambda: self._detector_event(doc))

    def _detector_event(self, doc: Any) -> Outcome:
        parsed = parse_notification(doc)
        with self._lock:
            if self.tracker.is_duplicate(parsed.source, parsed.event_id):
                duplicate = True
            else:
                duplicate = False
                event = to_external_event(
                    parsed, self.scales, self.scale, system=self.settings.system, producer=self.producer
                )
                previous = self.tracker.regressed(parsed.source, parsed.sequence)
                self.tracker.record(parsed.source, parsed.event_id, parsed.sequence)
                if previous is not None:
                    self.sequence_regressions[parsed.source] += 1
        if duplicate:
            MESSAGES_REJECTED.labels(service="collector", reason="event:duplicate").inc()
            log.info("absorbed duplicate event %s of %s", parsed.event_id, parsed.source)
            return Outcome("duplicate")
        flags = []
        if previous is not None:
            flags.append(f"sequence went backwards: {parsed.sequence} after {previous}")
            log.warning("event %s of %s: sequence %s after %s (accepted)",
                        parsed.event_id, parsed.source, parsed.sequence, previous)
        self.publish(event)
        return Outcome("accepted", [event], flags)

    # --- CAP ----------------------------------------------------------------------------------
    def cap_alert(self, data: bytes | str, now: datetime | None = None) -> Outcome:
        """Validate and map one CAP 1.2 alert (see ``collector.cap``): duplicates (sender, identifier,
        sent) are absorbed, Update/Cancel change/end the incidents they reference, alerts CAP says not
        to act on and expired Alerts are ignored with a reason. ``now`` judges expiry (default: the
        ingestor's clock)."""

        def run() -> Outcome:
            alert = cap.parse_alert(data, self.scale, self.settings.cap_max_bytes)
            reason = alert.ignored()
            flags: list[str] = []
            if reason is None:
                with self._lock:
                    if self.cap_memory.is_duplicate(alert):
                        reason = "duplicate"
                    else:
                        result = cap.events_for(alert, self.cap_memory, now or self.now(),
                                                system=self.settings.system, producer=self.producer)
                        self.cap_memory.record(alert, [e.event_id for e in result.events]
                                               or alert.own_ids(), result.events)
                        reason, flags = result.ignored, result.flags
            if reason == "duplicate":
                MESSAGES_REJECTED.labels(service="collector", reason="cap:duplicate").inc()
                log.info("absorbed duplicate CAP alert %s of %s sent %s", alert.identifier, alert.sender,
                         alert.sent.isoformat())
                return Outcome("duplicate")
            if reason:
                MESSAGES_REJECTED.labels(service="collector", reason=f"cap:{reason}").inc()
                with self._lock:
                    self.rejections[("cap", reason)] += 1
                return Outcome("ignored", flags=[reason, *flags])
            for ev in result.events:
                self.publish(ev)
            return Outcome("accepted", list(result.events), flags)

        return self._guard("cap", run)

    # --- OSM ----------------------------------------------------------------------------------
    def osm_alarm(self, body: bytes | str, now: datetime) -> Outcome:
        def run() -> Outcome:
            alarm = osm.to_alarm(
                osm.parse_webhook(body), now, default_system=self.settings.system,
                ns_systems=self.settings.osm_ns_systems, producer=self.producer,
            )
            self.publish(alarm)
            return Outcome("accepted", [alarm])

        return self._guard("osm", run)

    # --- Nova ---------------------------------------------------------------------------------
    def nova_notification(self, body: bytes | str) -> Outcome:
        def run() -> Outcome:
            note = nova.unwrap(body)
            change = nova.to_topology(note, self.producer)
            if change is None:
                return Outcome("ignored")
            with self._lock:
                fresh = self.lifecycle.accept(note, change)
            if not fresh:
                return Outcome("duplicate")
            self.publish(change)
            return Outcome("accepted", [change])

        return self._guard("nova", run)
