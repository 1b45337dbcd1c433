"""Detector events: RESTCONF JSON notifications of ``ietf-nmrg-nict-resource-anticipation``.

A notification (RFC 8040 §6.4, RFC 7951 encoding) is::

    {"ietf-restconf:notification": {
        "eventTime": "2026-11-22T02:00:00Z",
        "ietf-nmrg-nict-resource-anticipation:event": {
            "id": "q-17", "source": "seismo-hq", "sequence": "17",
            "timestamp": "2026-11-22T01:59:59.500Z", "payload": "<base64>"}}}

``payload`` is base64 of an RFC 7951 JSON instance of the module's ``events/event-payloads``
subtree holding exactly one entry of ``event-payloads-basic``, ``-seismometer`` or ``-bigdata``
(``docs/collector.md``). Everything is validated with yangson against the module; the functions
here are pure and raise ``IngestError`` naming the failing path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arca.collector.errors import IngestError
from arca.collector.severity import SeverityScales, severity_of
from arca.collector.yang_model import MODULE, NOTIFICATION, validate_data, validate_notification
from arca.messages import ExternalEvent
from arca.messages.ids import derived_id

ENVELOPE = "ietf-restconf:notification"
EVENT_PATH = f"/{ENVELOPE}/{NOTIFICATION}"
EVENTS = f"{MODULE}:events"
PAYLOAD_LISTS = {
    "event-payloads-basic": "basic",
    "event-payloads-seismometer": "seismometer",
    "event-payloads-bigdata": "bigdata",
}
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class ParsedEvent:
    """A notification that passed every syntactic and YANG check."""

    event_id: str
    source: str
    timestamp: datetime
    event_time: datetime
    payload_kind: str
    payload: dict[str, Any]
    sequence: int | None = None
    context: str | None = None


def parse_datetime(text: Any, path: str) -> datetime:
    """An RFC 3339 date-time (offset required), as an aware UTC datetime."""
    if not isinstance(text, str) or not _RFC3339.match(text):
        raise IngestError("datetime", path, f"not an RFC 3339 date-time with offset: {text!r}")
    try:
        value = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        return value.astimezone(UTC)
    except ValueError as exc:
        raise IngestError("datetime", path, f"not a real date-time {text!r}: {exc}") from None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        raise IngestError("datetime", path, f"date-time out of range: {text!r}") from None


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects accepted (a notification needs 6); checked before parsing."""
MAX_INT_DIGITS = 40
"""Longest JSON integer accepted (int64 has 19 digits); longer ones are refused, not parsed."""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_YANG = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters a YANG string may not hold (RFC 7950 §9.4: XML 1.0 characters only): C0 controls
other than tab, line feed and carriage return (NUL included), U+FFFE and U+FFFF (surrogates are
refused separately, as not encodable)."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No detector or orchestrator date before this is believed (a clock reset to the epoch, year 1)."""
MAX_AHEAD = timedelta(days=1)
"""How far past the collector's clock a date may be (clocks disagree by minutes or hours, never by
a day; year 9926 is refused)."""


def _depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, strings skipped (no recursion, no parsing)."""
    depth = deepest = 0
    for ch in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth = depth + 1 if ch in "[{" else depth - 1
        deepest = max(deepest, depth)
    return deepest


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits > {MAX_INT_DIGITS}")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} overflows a double")
    return value


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_strings(value: Any, path: str) -> None:
    """Refuse lone surrogates (``\\ud800``: they cannot be encoded as UTF-8 anywhere downstream) and
    the characters YANG strings exclude (NUL and the other C0 controls but tab, LF and CR; U+FFFE,
    U+FFFF), in every string: member names and values, at any depth."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise IngestError("json", path or "/", "string holds a lone UTF-16 surrogate (\\ud800-\\udfff)")
        bad = _NOT_YANG.search(value)
        if bad:
            raise IngestError("yang", path or "/", f"string holds U+{ord(bad.group()):04X}, a character YANG "
                              "strings exclude (RFC 7950 §9.4: XML 1.0 characters only)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path)
            _check_strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{path}/{i}")


def load_json(body: bytes | bytearray | str, path: str = "") -> Any:
    """Parse untrusted JSON with bounds: depth, integer size, finite numbers, no lone surrogates.

    Every refusal is an ``IngestError`` (reason ``json``) naming what is wrong; nothing else escapes.
    """
    where = path or "/"
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    except UnicodeDecodeError as exc:
        raise IngestError("json", where, f"not UTF-8: {exc}") from None
    if not isinstance(text, str):
        raise IngestError("json", where, f"expected a JSON text, got {type(body).__name__}")
    # nesting never exceeds the count of opening brackets: a text with at most MAX_JSON_DEPTH of them
    # (an event: 6 in its notification, 4 in its payload) skips the scan of its strings (``_depth``'s
    # regular expressions were the largest own-time item of an HTTP event, cProfile)
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:
        depth = _depth(text)
        if depth > MAX_JSON_DEPTH:
            raise IngestError("json", where, f"nested {depth} levels deep > {MAX_JSON_DEPTH}")
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                         parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise IngestError("json", where, f"not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise IngestError("json", where, f"not acceptable JSON: {exc}") from None
    if not _plain_text(text):  # else every string of the document is a piece of the text: all fine
        _check_strings(doc, path)
    return doc


def _plain_text(text: str) -> bool:
    """True when a JSON text holds no escape (no backslash) and none of the characters
    ``_check_strings`` refuses: every string parsed from it is then a piece of the text itself, and
    holds none either (one scan of the text instead of a walk over the document)."""
    return "\\" not in text and _SURROGATE.search(text) is None and _NOT_YANG.search(text) is None


def decode_payload(text: str, path: str) -> tuple[str, dict[str, Any]]:
    """Decode the base64 payload: (payload kind, the one payload entry)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError("payload", path, f"not base64: {exc}") from None
    doc = load_json(raw, path)
    if not isinstance(doc, dict) or set(doc) != {EVENTS}:
        raise IngestError(
            "payload", path, f"payload must be a JSON object with the single member {EVENTS!r}"
        )
    validate_data(doc, path)
    container = doc[EVENTS]
    if not isinstance(container, dict) or set(container) != {"event-payloads"}:
        raise IngestError("payload", f"{path}/events", "must hold only 'event-payloads'")
    entries = [
        (PAYLOAD_LISTS[name], entry)
        for name, items in container["event-payloads"].items()
        for entry in items
    ]
    if len(entries) != 1:
        raise IngestError(
            "payload", f"{path}/events/event-payloads",
            f"must hold exactly one payload entry, found {len(entries)}",
        )
    return entries[0]


def parse_notification(body: Any, *, checked: bool = False) -> ParsedEvent:
    """Validate a RESTCONF JSON notification (raw bytes/text, or already parsed JSON) and its
    payload; raise ``IngestError`` on any fault. ``checked``: ``body`` is a document ``load_json``
    returned (its strings were checked there, not again)."""
    if isinstance(body, bytes | bytearray | str):
        doc = load_json(body)
    else:
        doc = body
        if not checked:
            _check_strings(doc, "")
    if not isinstance(doc, dict) or set(doc) != {ENVELOPE}:
        raise IngestError("envelope", "/", f"expected a JSON object with the single member {ENVELOPE!r}")
    notif = doc[ENVELOPE]
    if not isinstance(notif, dict):
        raise IngestError("envelope", f"/{ENVELOPE}", "must be a JSON object")
    extra = set(notif) - {"eventTime", NOTIFICATION}
    if extra:
        raise IngestError("envelope", f"/{ENVELOPE}/{sorted(extra)[0]}", "unknown member of the notification")
    if "eventTime" not in notif:
        raise IngestError("missing", f"/{ENVELOPE}/eventTime", "required by RFC 8040")
    event_time = parse_datetime(notif["eventTime"], f"/{ENVELOPE}/eventTime")
    content = notif.get(NOTIFICATION)
    if not isinstance(content, dict):
        raise IngestError("envelope", EVENT_PATH, "missing or not a JSON object")
    validate_notification(content, EVENT_PATH)
    for leaf in ("id", "source", "timestamp", "payload"):
        if not content.get(leaf):
            raise IngestError(
                "missing", f"{EVENT_PATH}/{leaf}", "required by ARCA (id, source, timestamp, payload)"
            )
    timestamp = parse_datetime(content["timestamp"], f"{EVENT_PATH}/timestamp")
    kind, payload = decode_payload(content["payload"], f"{EVENT_PATH}/payload")
    seq = content.get("sequence")
    return ParsedEvent(
        event_id=content["id"],
        source=content["source"],
        timestamp=timestamp,
        event_time=event_time,
        payload_kind=kind,
        payload=payload,
        sequence=int(seq) if seq is not None else None,
        context=content.get("context"),
    )


def check_date(value: datetime, now: datetime, path: str) -> datetime:
    """``value`` if it lies in the sane window [``EARLIEST``, ``now`` + ``MAX_AHEAD``], else an
    ``IngestError`` (reason ``datetime``) naming the field; ``now`` is the collector's clock."""
    if value < EARLIEST:
        raise IngestError("datetime", path, f"{value.isoformat()} is before {EARLIEST.date()}: not a real "
                          "date")
    if value > now + MAX_AHEAD:
        raise IngestError("datetime", path, f"{value.isoformat()} is more than {MAX_AHEAD} after the "
                          f"collector's clock ({now.isoformat()})")
    return value


def check_dates(parsed: ParsedEvent, now: datetime) -> None:
    """Both dates of an event (``eventTime``, ``timestamp``) within the sane window of ``now``."""
    check_date(parsed.event_time, now, f"/{ENVELOPE}/eventTime")
    check_date(parsed.timestamp, now, f"{EVENT_PATH}/timestamp")


def event_severity(
    parsed: ParsedEvent, scales: SeverityScales, scale: tuple[int, int]
) -> tuple[int | None, float | None]:
    """(severity, magnitude) of an event: bigdata directly, seismometer through its source's scale."""
    path = f"{EVENT_PATH}/payload/events/event-payloads/event-payloads-{parsed.payload_kind}"
    severity: int | None = None
    magnitude: float | None = None
    if parsed.payload_kind == "bigdata":
        if "severity" not in parsed.payload:
            raise IngestError("missing", f"{path}/severity", "a bigdata payload needs a severity")
        severity = int(parsed.payload["severity"])
    elif parsed.payload_kind == "seismometer":
        if "magnitude" not in parsed.payload:
            raise IngestError("missing", f"{path}/magnitude", "a seismometer payload needs a magnitude")
        magnitude = float(parsed.payload["magnitude"])
        steps = scales.steps_for(parsed.source)
        if steps is None:
            raise IngestError(
                "no_scale", f"{EVENT_PATH}/source",
                f"no arca:SeverityScale for source {parsed.source!r} (nor a '*' fallback)",
            )
        severity = severity_of(steps, magnitude)
        path = f"{path}/magnitude"
    else:
        return None, None
    low, high = scale
    if not low <= severity <= high:
        field = path if parsed.payload_kind == "seismometer" else f"{path}/severity"
        raise IngestError("severity", field, f"severity {severity} outside the scale {low}..{high}")
    return severity, magnitude


def event_domain(parsed: ParsedEvent) -> str | None:
    """The domain an event is about (routing by ``arca:listensToDomain``): its location or context."""
    location = parsed.payload.get("location") or parsed.context
    return location if isinstance(location, str) else None


def to_external_event(
    parsed: ParsedEvent,
    scales: SeverityScales,
    scale: tuple[int, int] = (0, 4),
    *,
    system: str | None = None,
    producer: str = "collector",
) -> ExternalEvent:
    """The bus message of a validated notification."""
    severity, magnitude = event_severity(parsed, scales, scale)
    location = parsed.payload.get("location") or parsed.context
    description = parsed.payload.get("description")
    if description is None and parsed.payload_kind == "basic" and isinstance(parsed.payload.get("data"), str):
        description = parsed.payload["data"]
    return ExternalEvent(
        # the same detector event is the same message: a retry after a lost answer or a collector
        # restart is dropped downstream as a duplicate instead of counted twice
        message_id=derived_id("event", parsed.source, parsed.event_id),
        event_time=parsed.event_time,
        producer=producer,
        event_id=parsed.event_id,
        source=parsed.source,
        onset=parsed.timestamp,
        payload_kind=parsed.payload_kind,  # type: ignore[arg-type]
        severity=severity,
        magnitude=magnitude,
        sequence=parsed.sequence,
        location=location,
        system=system,
        description=description,
    )


class EventTracker:
    """Per-source memory: duplicate (source, id) deliveries and sequence numbers going backwards."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._ids: dict[str, OrderedDict[str, None]] = {}
        self._pending: set[tuple[str, str]] = set()
        self._last_seq: dict[str, int] = {}
        self._capacity = capacity

    def is_duplicate(self, source: str, event_id: str) -> bool:
        """Seen (confirmed) before, or being published right now by another thread."""
        return event_id in self._ids.get(source, ()) or (source, event_id) in self._pending

    def begin(self, source: str, event_id: str) -> None:
        """The event is being published: a concurrent copy is a duplicate until ``abandon``."""
        self._pending.add((source, event_id))

    def abandon(self, source: str, event_id: str) -> None:
        """Publishing failed: forget the event so the sender's retry is processed again."""
        self._pending.discard((source, event_id))

    def regressed(self, source: str, sequence: int | None) -> int | None:
        """The previous sequence number if ``sequence`` goes backwards for ``source``, else None."""
        last = self._last_seq.get(source)
        if sequence is None or last is None:
            return None
        return last if sequence <= last else None

    def record(self, source: str, event_id: str, sequence: int | None) -> None:
        """The event's message was confirmed: remember it as seen."""
        self._pending.discard((source, event_id))
        ids = self._ids.setdefault(source, OrderedDict())
        ids[event_id] = None
        if len(ids) > self._capacity:
            ids.popitem(last=False)
        if sequence is not None:
            self._last_seq[source] = sequence


def build_payload(kind: str, **leaves: Any) -> str:
    """Base64 payload of one ``kind`` entry (``plid`` defaults to ``"p1"``)."""
    entry = {"plid": leaves.pop("plid", None) or "p1"}
    entry.update({k: v for k, v in leaves.items() if v is not None})
    doc = {EVENTS: {"event-payloads": {f"event-payloads-{kind}": [entry]}}}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def build_notification(
    *,
    event_id: str,
    source: str,
    timestamp: datetime,
    payload: str,
    sequence: int | None = None,
    context: str | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """A RESTCONF JSON notification (RFC 7951: int64 as a string, date-times in RFC 3339)."""
    content: dict[str, Any] = {"id": event_id, "source": source, "timestamp": _rfc3339(timestamp)}
    if sequence is not None:
        content["sequence"] = str(sequence)
    if context is not None:
        content["context"] = context
    content["payload"] = payload
    return {
        ENVELOPE: {
            "eventTime": _rfc3339(event_time or timestamp),
            NOTIFICATION: content,
        }
    }


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
