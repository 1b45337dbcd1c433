"""The collector's front desk: raw input in, bus messages (or a counted refusal) out.

``Ingestor`` holds the little state ingestion needs (duplicate/sequence memory, severity scales,
the per-source tokens of ``arca.collector.auth``), applies the pure parsers of the adapter modules,
counts every refusal by input and reason in
``arca_messages_rejected_total{service="collector", reason="<input>:<reason>"}`` and hands accepted
messages to ``publish``, then waits for ``confirm`` (the bus's publisher confirms). A detector
event is remembered as seen (for duplicate absorption) only once its message is confirmed: an event
whose publish failed is not "seen", and the sender's retry is processed again. It is thread-safe
(HTTP threads, AMQP consumer threads, the tick).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from arca.collector import cap, nova, osm
from arca.collector.auth import TokenAuth
from arca.collector.errors import IngestError
from arca.collector.events import (
    ENVELOPE,
    EVENT_PATH,
    NOTIFICATION,
    EventTracker,
    ParsedEvent,
    check_dates,
    event_domain,
    load_json,
    parse_notification,
    to_external_event,
)
from arca.collector.routing import Router
from arca.collector.settings import CollectorSettings
from arca.collector.severity import SeverityScales
from arca.messages import ExternalEvent, Message
from arca.messages.codec import MessageError, encode
from arca.messages.ids import derived_id
from arca.metrics import INGEST_AUTH_REFUSED, MESSAGES_REJECTED
from arca.trust import SourceTrust, take_slot, trust_for

log = logging.getLogger(__name__)

Publish = Callable[[Message], Any]
"""Publishes one message; may return a ticket (``Confirm`` waits for the tickets' confirms)."""
Confirm = Callable[[list[Any]], None]
AUTH_REASONS = ("unauthenticated", "forbidden", "unmanaged")


class Unconfirmed(RuntimeError):
    """The bus did not confirm the messages of an accepted input: the sender should retry."""


@dataclass
class Outcome:
    """What happened to one accepted input."""

    status: str  # "accepted" | "duplicate" | "ignored"
    messages: list[Message] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "messages": [m.message_id for m in self.messages],
                "flags": self.flags}


def source_of(doc: Any) -> str | None:
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
        confirm: Confirm | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.confirm = confirm
        self.router = Router()  # the stored policies (``routing = "policies"``), set by the service
        self.auth = TokenAuth(settings.tokens, allow_unauthenticated=settings.allow_unauthenticated)
        self.scales = scales or SeverityScales()
        self.producer = producer
        self.tracker = EventTracker(settings.duplicate_memory)
        self.lifecycle = nova.LifecycleTracker()
        self.cap_memory = cap.CapMemory(settings.duplicate_memory)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.sequence_regressions: Counter[str] = Counter()
        self.trusts: dict[str, SourceTrust] = {}
        """The stored source trust (``arca:SourceTrust``, set by the service): its rate limits are
        applied here, before anything is published (``admit``)."""
        self.admitted: dict[str, list[datetime]] = {}
        """Per source, the event times admitted within its rate-limit window."""
        self._lock = threading.Lock()

    @property
    def scale(self) -> tuple[int, int]:
        return (self.settings.severity_min, self.settings.severity_max)

    def reject(self, channel: str, exc: IngestError) -> IngestError:
        """Count a refusal once (and log it); returns the error for the caller to answer with."""
        if exc.counted:
            return exc
        exc.counted = True
        MESSAGES_REJECTED.labels(service="collector", reason=f"{channel}:{exc.reason}").inc()
        if exc.reason in AUTH_REASONS:
            INGEST_AUTH_REFUSED.labels(input=channel, reason=exc.reason).inc()
        with self._lock:
            self.rejections[(channel, exc.reason)] += 1
        log.warning("refused %s input (%s): %s", channel, exc.reason, exc)
        return exc

    def _guard(self, channel: str, fn: Callable[[], Outcome]) -> Outcome:
        try:
            return fn()
        except IngestError as exc:
            raise self.reject(channel, exc) from None
        except ValidationError as exc:  # a value the message model refuses (e.g. a naive time)
            first = exc.errors()[0]
            path = "/" + "/".join(str(p) for p in first["loc"])
            raise self.reject(channel, IngestError("invalid", path, first["msg"])) from None

    def _send(self, messages: list[Message], confirm: bool) -> None:
        """Publish, then (``confirm``: an outside sender waits for our answer) wait for the bus's
        confirmation (raises ``Unconfirmed``). In-process callers (the demo) do not wait."""
        for message in messages:
            try:
                encode(message)  # a message the codec cannot write is refused here, not by the bus
            except MessageError as exc:
                raise IngestError("invalid", "/", f"cannot be encoded as a message: {exc}") from None
        tickets = [self.publish(message) for message in messages]
        if confirm and messages and self.confirm is not None:
            try:
                self.confirm(tickets)  # this input's messages only: concurrent inputs wait together
            except Exception as exc:  # the broker did not confirm
                log.error("bus did not confirm %d message(s): %r", len(messages), exc)
                raise Unconfirmed(f"not confirmed by the bus: {exc}") from exc

    # --- auth ---------------------------------------------------------------------------------
    def check_token(self, doc: Any, bearer: str | None) -> None:
        """A detector event's token must be the one issued to its ``source`` (401 / 403)."""
        principal = self.auth.principal(bearer)
        self.auth.authorise(principal, source_of(doc), f"/{ENVELOPE}/{NOTIFICATION}/source")

    # --- detector events ----------------------------------------------------------------------
    def detector_event(self, doc: Any, channel: str = "event", *, token: str | None = None,
                       authenticate: bool = False, confirm: bool = False, checked: bool = False) -> Outcome:
        """Validate, map and publish one RESTCONF JSON notification (parsed JSON or raw bytes).

        With ``authenticate`` the notification's source must hold ``token`` (AMQP ingest; the HTTP
        route checks the bearer itself, before parsing the body). ``checked``: ``doc`` is what
        ``load_json`` returned (the HTTP route parses the body itself).
        """
        def run() -> Outcome:
            raw = isinstance(doc, bytes | bytearray | str)
            parsed_doc = load_json(doc) if raw else doc
            if authenticate:
                self.check_token(parsed_doc, token)
            return self._detector_event(parsed_doc, confirm, checked=raw or checked)

        return self._guard(channel, run)

    def _detector_event(self, doc: Any, confirm: bool, *, checked: bool) -> Outcome:
        parsed = parse_notification(doc, checked=checked)
        check_dates(parsed, self.now())
        with self._lock:
            if self.tracker.is_duplicate(parsed.source, parsed.event_id):
                duplicate = True
            else:
                duplicate = False
                events = self._routed(parsed)
                admitted = self.admit(events[0])
                self.tracker.begin(parsed.source, parsed.event_id)
        if duplicate:
            MESSAGES_REJECTED.labels(service="collector", reason="event:duplicate").inc()
            log.info("absorbed duplicate event %s of %s", parsed.event_id, parsed.source)
            return Outcome("duplicate")
        try:
            self._send(list(events), confirm)
        except BaseException:
            with self._lock:  # not confirmed: not seen, so the sender's retry is processed again
                self.tracker.abandon(parsed.source, parsed.event_id)
                if admitted is not None:
                    self._unadmit(parsed.source, admitted)
            raise
        with self._lock:
            previous = self.tracker.regressed(parsed.source, parsed.sequence)
            self.tracker.record(parsed.source, parsed.event_id, parsed.sequence)
            if previous is not None:
                self.sequence_regressions[parsed.source] += 1
        flags = []
        if previous is not None:
            flags.append(f"sequence went backwards: {parsed.sequence} after {previous}")
            log.warning("event %s of %s: sequence %s after %s (accepted)",
                        parsed.event_id, parsed.source, parsed.sequence, previous)
        return Outcome("accepted", list(events), flags)

    def admit(self, event: ExternalEvent) -> datetime | None:
        """The source's rate limit (``arca:eventLimit`` per ``arca:windowSeconds``, its own trust node
        or the ``*`` one), applied at the door as the analyzer applies it (same rule, same event
        times): an event over the limit is refused with a 429 before it costs a publish, a decode,
        a screen and a dead letter downstream (a flood of 5,000 took the analyzer 2 s to refuse
        while a genuine event waited behind it). The analyzer keeps its own check (several
        collector replicas each count only what they saw). The event time admitted, or None when
        the source has no limit (or the event cancels an incident). Call under ``_lock``."""
        trust = trust_for(self.trusts, event.source)
        if trust is None or trust.event_limit is None or event.cancelled:
            return None
        count = take_slot(self.admitted.setdefault(event.source, []), trust, event.event_time)
        if count is not None:  # counted as arca_messages_rejected_total{reason="event:rate_limited"}
            raise IngestError(
                "rate_limited", f"{EVENT_PATH}/source",
                f"source {event.source!r} is over its rate limit: {count} events accepted in the last "
                f"{trust.window_s:g} s (limit {trust.event_limit}); event {event.event_id} refused",
                status=429, retry_after_s=max(1, round(trust.window_s)))
        return event.event_time

    def _unadmit(self, source: str, at: datetime) -> None:
        """Forget an admitted event whose messages were not confirmed (its retry is admitted again)."""
        times = self.admitted.get(source, [])
        if at in times:
            times.remove(at)

    def _routed(self, parsed: ParsedEvent) -> list[ExternalEvent]:
        """One message per system the event concerns (``IngestError`` ``unrouted`` when none)."""
        if self.settings.routing == "system":
            return [to_external_event(parsed, self.scales, self.scale, system=self.settings.system,
                                      producer=self.producer)]
        domain = event_domain(parsed)
        systems = self.router.systems_for_event(parsed.source, domain)
        if not systems:
            raise IngestError(
                "unrouted", f"{EVENT_PATH}/source",
                f"no system's policy listens to source {parsed.source!r} or domain {domain!r}", status=422,
            )
        base = to_external_event(parsed, self.scales, self.scale, producer=self.producer)
        # one message per system, each its own id (a pure function of the event and the system)
        return [base.model_copy(update={"system": s, "domain": domain,
                                        "message_id": derived_id("event", parsed.source, parsed.event_id, s)})
                for s in systems]

    # --- CAP ----------------------------------------------------------------------------------
    def cap_alert(self, data: bytes | str, now: datetime | None = None, *, principal: str | None = None,
                  authenticate: bool = False, confirm: bool = False) -> Outcome:
        """Validate and map one CAP 1.2 alert (see ``arca.collector.cap``): duplicates (sender, identifier,
        sent) are absorbed, Update/Cancel change/end the incidents they reference, alerts CAP says not
        to act on and expired Alerts are ignored with a reason. ``now`` judges expiry (default: the
        ingestor's clock). With ``authenticate`` the alert's ``sender`` must be ``principal`` (the
        source the presented token was issued to). The alert is remembered (for duplicates and
        references) only once its events are published (and confirmed, with ``confirm``).
        """

        def run() -> Outcome:
            alert = cap.parse_alert(data, self.scale, self.settings.cap_max_bytes)
            if authenticate:
                self.auth.authorise(principal, alert.sender, "/alert/sender")
            reason = alert.ignored()
            flags: list[str] = []
            if reason is None:
                with self._lock:
                    if self.cap_memory.is_duplicate(alert):
                        reason = "duplicate"
                    else:
                        result = cap.events_for(alert, self.cap_memory, now or self.now(),
                                                system=self.settings.system, producer=self.producer)
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
            self._send(list(result.events), confirm)
            with self._lock:
                self.cap_memory.record(alert, [e.event_id for e in result.events] or alert.own_ids(),
                                       result.events)
            return Outcome("accepted", list(result.events), flags)

        return self._guard("cap", run)

    # --- OSM ----------------------------------------------------------------------------------
    def osm_alarm(self, body: bytes | str, now: datetime, *, principal: str | None = None,
                  authenticate: bool = False, confirm: bool = False) -> Outcome:
        """Validate, map and publish one OSM alarm webhook. With ``authenticate`` the principal must
        be one of ``osm_principals``; the alarm must name one of the NS instances
        ``collector.osm_ns_systems`` maps to a system (else 403 ``unmanaged``, counted): an unset map
        manages no NS, so every alarm is refused, naming the setting."""
        def run() -> Outcome:
            if authenticate:
                self.auth.authorise_any(principal, self.settings.osm_principals, "Authorization")
            alarm = osm.to_alarm(
                osm.parse_webhook(body), now, default_system=self.settings.system,
                ns_systems=self.settings.osm_ns_systems, producer=self.producer,
            )
            managed = self.settings.osm_ns_systems
            if not managed:
                raise IngestError("unmanaged", "/notify_details/ns_id",
                                  f"NS instance {alarm.ns_id!r} is not managed by ARCA: "
                                  "collector.osm_ns_systems is not set (no OSM NS instance is managed)",
                                  status=403)
            if alarm.ns_id not in managed:
                raise IngestError("unmanaged", "/notify_details/ns_id",
                                  f"NS instance {alarm.ns_id!r} is not managed by ARCA (not in "
                                  "collector.osm_ns_systems)", status=403)
            self._send([alarm], confirm)
            return Outcome("accepted", [alarm])

        return self._guard("osm", run)

    # --- Nova ---------------------------------------------------------------------------------
    def nova_notification(self, body: bytes | str, *, confirm: bool = False) -> Outcome:
        def run() -> Outcome:
            note = nova.unwrap(body)
            change = nova.to_topology(note, self.producer)
            if change is None:
                return Outcome("ignored")
            with self._lock:
                fresh = self.lifecycle.accept(note, change)
            if not fresh:
                return Outcome("duplicate")
            self._send([change], confirm)
            return Outcome("accepted", [change])

        return self._guard("nova", run)
