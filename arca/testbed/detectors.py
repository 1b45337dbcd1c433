"""Emulated detectors: on each incident, after the notification delay, a YANG event notification.

Each domain has a seismometer (source ``seismometer-<domain>``); optionally a big-data analyser
(source ``bigdata-analyser``) reports severities directly. Detectors may be imperfect, as the
timeline says (``Timeline.notifications``): a missed incident sends nothing, a false alarm sends an
event with no burst behind it, a severity error reports another severity, a late one comes later.
The notification is the RESTCONF JSON envelope of ``ietf-nmrg-nict-resource-anticipation:event``
(RFC 8040 §6.4, RFC 7951): ``sequence`` is an int64 as a JSON string, ``payload`` is base64 of an
RFC 7951 JSON instance of
``events/event-payloads`` with exactly one ``event-payloads-seismometer`` (``magnitude``) or
``event-payloads-bigdata`` (``severity``) entry (the collector's payload convention).

Seismometer magnitudes per severity (``MAGNITUDES``) follow the collector's default severity scale
(``ontology/policies/severity-scales.ttl``, ``scale-default``: 4 -> 1, 6 -> 2, 7 -> 3, 8 -> 4).
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime
from typing import Any

from arca.testbed.model import TestbedEvent, TestbedModel
from arca.testbed.sinks import Sink
from arca.testbed.timeline import Incident, Notification

MODULE = "ietf-nmrg-nict-resource-anticipation"
MAGNITUDES = {1: 4, 2: 6, 3: 7, 4: 8}
KINDS = ("seismometer", "bigdata", "both")


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def payload_instance(kind: str, plid: str, incident: Incident | Notification) -> dict[str, Any]:
    """The RFC 7951 instance of ``events/event-payloads`` with one entry (the *reported* severity)."""
    severity = incident.reported_severity if isinstance(incident, Incident) else incident.severity
    if kind == "seismometer":
        entry: dict[str, Any] = {
            "plid": plid,
            "location": incident.domain,
            "magnitude": MAGNITUDES[severity],
        }
        lst = "event-payloads-seismometer"
    else:
        entry = {
            "plid": plid,
            "description": f"incident of severity {severity} near {incident.domain}",
            "severity": severity,
        }
        lst = "event-payloads-bigdata"
    return {f"{MODULE}:events": {"event-payloads": {lst: [entry]}}}


def notification(
    kind: str,
    source: str,
    sequence: int,
    incident: Incident | Notification,
    happened: datetime,
    sent: datetime,
    context: str = "emergency",
) -> dict[str, Any]:
    event_id = f"{source}-{sequence}"
    payload = payload_instance(kind, f"{event_id}-pl", incident)
    return {
        "ietf-restconf:notification": {
            "eventTime": rfc3339(sent),
            f"{MODULE}:event": {
                "id": event_id,
                "source": source,
                "context": context,
                "sequence": str(sequence),
                "timestamp": rfc3339(happened),
                "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
            },
        }
    }


class Detectors:
    """Listens to the model's incidents; publishes notifications to ``sink`` after ``delay_s``."""

    def __init__(
        self,
        model: TestbedModel,
        sink: Sink,
        kind: str = "seismometer",
        delay_s: float | None = None,
        routing_prefix: str = "event",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"detector kind must be one of {KINDS}, got {kind!r}")
        self.model = model
        self.sink = sink
        self.kind = kind
        self.delay_s = model.params.detector_delay_s if delay_s is None else delay_s
        self.routing_prefix = routing_prefix
        self.sequences: dict[str, int] = {}
        self.sent: list[dict[str, Any]] = []
        model.subscribe(self._on_event)
        for note in model.timeline.notifications(self.delay_s):
            model.schedule(note.at_s, functools.partial(self._notify, note))

    def _on_event(self, ev: TestbedEvent) -> None:
        if ev.kind == "detector.event" and ev.data.get("emitter") is self:  # not another instance's
            doc = ev.data["notification"]
            self.sink.send(
                json.dumps(doc).encode(),
                f"{self.routing_prefix}.{ev.data['source']}",
                "application/yang-data+json",
            )

    def _notify(self, note: Notification) -> None:
        kinds = ("seismometer", "bigdata") if self.kind == "both" else (self.kind,)
        for kind in kinds:
            source = f"seismometer-{note.domain}" if kind == "seismometer" else "bigdata-analyser"
            seq = self.sequences[source] = self.sequences.get(source, 0) + 1
            sent = self.model.time_of(note.at_s)
            doc = notification(
                kind, source, seq, note, self.model.time_of(note.onset_s), sent, self.model.params.system
            )
            self.sent.append(doc)
            self.model.emit("detector.event", notification=doc, source=source, emitter=self)
