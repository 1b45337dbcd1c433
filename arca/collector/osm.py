"""OSM policy-module alarm webhooks -> ``Alarm``.

OSM POL posts ``json.dumps`` of the notification as a JSON *string*, so the HTTP body is a JSON
string containing JSON: ``"{\\"schema_version\\": \\"1.1\\", \\"schema_type\\": \\"notify_alarm\\",
\\"notify_details\\": {...}}"``. A plain JSON object is accepted too. ``notify_details`` carries
``alarm_uuid, vdu_name, vnf_member_index, ns_id, metric_name, threshold_value, operation, severity,
status, start_date`` (newer releases move ns_id/vnf_member_index/vdu_name into ``tags``).
Status ``insufficient-data`` on a VM-status alarm means the VNF is dead (the analyzer decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from arca.collector.errors import IngestError
from arca.collector.events import check_date, load_json
from arca.messages import Alarm

STATUSES = {"alarm", "ok", "insufficient-data"}
_DATE_FORMATS = ("%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")


def parse_osm_date(text: str) -> datetime:
    """OSM MON dates (``dd-mm-YYYY HH:MM:SS``, UTC) or ISO 8601 (Prometheus ``startsAt``)."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: e.g. 9999-12-31T23:59:59-14:00 in UTC
        raise IngestError("datetime", "/notify_details/start_date", f"not a date: {text!r}") from None


def parse_webhook(body: bytes | str) -> dict[str, Any]:
    """The notification object of a webhook body (JSON string containing JSON, or JSON)."""
    doc = load_json(body)  # bounded: depth, integer size, finite numbers, no lone surrogates
    if isinstance(doc, str):
        doc = load_json(doc)
    if not isinstance(doc, dict):
        raise IngestError("osm", "/", "notification must be a JSON object")
    if doc.get("schema_type") != "notify_alarm":
        raise IngestError("osm", "/schema_type", f"expected 'notify_alarm', got {doc.get('schema_type')!r}")
    if not isinstance(doc.get("notify_details"), dict):
        raise IngestError("osm", "/notify_details", "missing or not an object")
    return doc


def to_alarm(
    doc: Mapping[str, Any],
    now: datetime,
    *,
    default_system: str,
    ns_systems: Mapping[str, str] | None = None,
    producer: str = "collector",
) -> Alarm:
    """The ``Alarm`` of a parsed webhook; ``now`` is used when OSM sent no start date."""
    d = doc["notify_details"]
    tags = d.get("tags") if isinstance(d.get("tags"), dict) else {}

    def get(name: str) -> Any:
        return d.get(name) if d.get(name) is not None else tags.get(name)

    for req in ("alarm_uuid", "metric_name", "status"):
        if not get(req):
            raise IngestError("osm", f"/notify_details/{req}", "required field missing")
    status = str(get("status")).lower()
    if status not in STATUSES:
        raise IngestError("osm", "/notify_details/status", f"{status!r} is not one of {sorted(STATUSES)}")
    threshold = get("threshold_value")
    if threshold is not None:
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise IngestError("osm", "/notify_details/threshold_value", "not a number") from None
    ns_id = get("ns_id")
    start = get("start_date")
    return Alarm(
        event_time=(check_date(parse_osm_date(str(start)), now, "/notify_details/start_date") if start
                    else now),
        producer=producer,
        system=(ns_systems or {}).get(str(ns_id), default_system),
        alarm_id=str(get("alarm_uuid")),
        metric=str(get("metric_name")),
        status=status,  # type: ignore[arg-type]
        severity=str(get("severity") or ""),
        ns_id=str(ns_id) if ns_id else None,
        vnf_member_index=str(get("vnf_member_index")) if get("vnf_member_index") is not None else None,
        vdu_name=str(get("vdu_name")) if get("vdu_name") else None,
        threshold=threshold,
        operation=str(get("operation")) if get("operation") else None,
    )
