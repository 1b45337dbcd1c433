"""Per-event ingest cost of the collector: validate (yangson) + build the message + encode (N-Triples).

``arca event bench`` prints the numbers; measured in a benchmark, never asserted in unit tests.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from arca.collector.cap import alert_to_events
from arca.collector.events import build_notification, build_payload, parse_notification, to_external_event
from arca.collector.severity import SeverityScales
from arca.messages import encode

SCALES = SeverityScales.from_mapping({"*": [(3, 1), (5, 2), (6, 3), (7, 4)]})

CAP_ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>BENCH-{i}</identifier><sender>bench@example.org</sender>
  <sent>2026-11-22T02:00:05+00:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Geo</category><event>Earthquake</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty>
    <parameter><valueName>magnitude</valueName><value>6.1</value></parameter>
    <area><areaDesc>HQ</areaDesc></area></info>
</alert>"""


def _bodies(n: int) -> list[bytes]:
    t0 = datetime(2026, 11, 22, 2, tzinfo=UTC)
    out = []
    for i in range(n):
        payload = (build_payload("seismometer", magnitude=3 + i % 5, location="hq") if i % 2
                   else build_payload("bigdata", severity=i % 5, description="bench"))
        doc = build_notification(event_id=f"e{i}", source="bench", timestamp=t0 + timedelta(seconds=i),
                                 payload=payload, sequence=i)
        out.append(json.dumps(doc).encode())
    return out


def _timed(items: list[Any], fn: Callable[[Any], object]) -> dict[str, float]:
    samples = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "n": len(samples),
        "mean_us": statistics.fmean(samples) * 1e6,
        "p50_us": samples[len(samples) // 2] * 1e6,
        "p99_us": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e6,
        "per_s": len(samples) / sum(samples),
    }


def measure(n: int = 2000) -> dict[str, dict[str, float]]:
    """Timings per stage for ``n`` detector events (half bigdata, half seismometer) and ``n`` CAP alerts."""
    bodies = _bodies(n)
    parse_notification(bodies[0])  # build the yangson data model outside the measurement
    parsed = [parse_notification(b) for b in bodies]
    events = [to_external_event(p, SCALES) for p in parsed]
    caps = [CAP_ALERT.format(i=i).encode() for i in range(n)]
    return {
        "event_validate": _timed(bodies, parse_notification),
        "event_build": _timed(parsed, lambda p: to_external_event(p, SCALES)),
        "event_encode": _timed(events, encode),
        "event_total": _timed(bodies, lambda b: encode(to_external_event(parse_notification(b), SCALES))),
        "cap_total": _timed(caps, lambda x: [encode(e) for e in alert_to_events(x).events]),
    }
