"""OASIS Common Alerting Protocol 1.2 alerts -> ``ExternalEvent`` (payload_kind ``"cap"``).

XML is parsed with defusedxml (DTDs, entity declarations and external references forbidden) after a
size check. Required elements are checked, enumerations too (``parse_alert``, pure). What an alert
*means* depends on the alerts seen before, which ``CapMemory`` remembers (the ingestor holds one):

- **Identity**: CAP identifies an alert by ``sender`` + ``identifier`` + ``sent``; a re-post of the
  same triple is a duplicate, absorbed like a detector's duplicate event (nothing published).
- **Incidents**: an ``Alert`` opens one incident per ``info`` block, whose id (the event's
  ``event_id``) is the identifier, or ``identifier#<n>`` with several blocks. An ``Update`` or
  ``Cancel`` names earlier alerts in ``references`` ("sender,identifier,sent" triples); its events
  carry the *referenced* incidents' ids, so the analyzer (which keys incidents by ``event_id``)
  replaces the incident (Update) or ends it (Cancel: ``cancelled=True``) instead of opening another.
  An unknown reference resolves to the referenced identifier. An Update keeps the incident's onset
  unless it gives ``onset``/``effective``; with as many ``info`` blocks as incidents they pair in
  order, otherwise each incident takes the most severe block.
- **Expiry** (``info/expires``, judged against the injected clock): an ``Alert`` whose every block
  has expired is refused as ``cap_expired`` (nothing to act on); an expired ``Update`` is accepted
  as *ended*: it ends the incidents it references.
- **Status** (CAP 1.2, 3.2.1): only ``Actual`` is acted upon. ``Exercise`` (for exercise
  participants only), ``Test`` (to be discarded), ``Draft`` (not actionable) and ``System``
  (internal to the alerting network) are validated, then ignored, counted as ``cap_exercise``,
  ``cap_test``, ``cap_draft``, ``cap_system``; ``Ack``/``Error`` messages as ``cap_not_alert``.

Severity mapping (documented in ``docs/collector.md``): CAP severity Extreme 4, Severe 3, Moderate 2,
Minor 1, Unknown 0; minus 1 if certainty is Possible, minus 2 if Unlikely; minus 1 if urgency is
Future; urgency Past -> 0; clamped to the configured scale.

Numeric parameters are read as feeds write them (``parse_number``): a decimal number with ``.`` or
``,`` as decimal mark and an optional unit before or after it (``3.4 Ml``, ``6 mag``, ``M6.1``,
``5,2``). The magnitude is the parameter whose ``valueName`` is ``magnitude`` or ``mag`` (any case).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from arca.collector.errors import IngestError
from arca.collector.events import parse_datetime
from arca.messages import ExternalEvent
from arca.messages.ids import derived_id

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = f"{{{CAP_NS}}}"

STATUS = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPES = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPES = {"Public", "Restricted", "Private"}
CATEGORIES = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
              "Infra", "CBRNE", "Other"}
URGENCY = {"Immediate", "Expected", "Future", "Past", "Unknown"}
SEVERITY = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1, "Unknown": 0}
CERTAINTY = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
CERTAINTY_PENALTY = {"Possible": 1, "Unlikely": 2}
IGNORED_STATUS = {"Exercise": "cap_exercise", "Test": "cap_test", "Draft": "cap_draft",
                  "System": "cap_system"}
"""Statuses CAP 1.2 says not to act upon -> the reason they are counted under."""
MAGNITUDE_NAMES = {"magnitude", "mag"}

_NUMBER = re.compile(
    r"^\s*(?:(?P<pre>[A-Za-z]{1,3})\s*)?(?P<num>[+-]?\d+(?:[.,]\d+)?)"
    r"\s*(?P<unit>[A-Za-z°%µ][A-Za-z.°%µ/ ]*)?$"
)


def parse_number(text: str, path: str, what: str = "value") -> tuple[float, str | None]:
    """A numeric CAP parameter value with its unit: ``"3.4 Ml"`` -> ``(3.4, "Ml")``, ``"5,2"`` -> 5.2.

    Accepted: an optional sign, digits, an optional ``.``/``,`` decimal part, and a unit of letters
    (``.``, ``/``, ``%``, ``°`` allowed) after the number or up to 3 letters before it (``M6.1``).
    Refused with a reason: anything else, including ``nan``, ``inf`` and exponents."""
    m = _NUMBER.match(text)
    if m is None:
        raise IngestError("cap", path,
                          f"{what} {text!r} is not a number with an optional unit (e.g. '3.4 Ml')")
    value = float(m.group("num").replace(",", "."))
    unit = (m.group("unit") or "").strip() or m.group("pre")
    return value, unit


def cap_severity(severity: str, urgency: str, certainty: str, scale: tuple[int, int] = (0, 4)) -> int:
    """ARCA severity of one CAP ``info`` (see the module docstring)."""
    low, high = scale
    if urgency == "Past":
        return low
    value = SEVERITY[severity] - CERTAINTY_PENALTY.get(certainty, 0) - (1 if urgency == "Future" else 0)
    return max(low, min(high, value))


AlertKey = tuple[str, str, datetime]
"""(sender, identifier, sent): what identifies a CAP alert."""


@dataclass(frozen=True)
class CapRef:
    """One entry of ``references``."""

    sender: str
    identifier: str
    sent: datetime

    @property
    def key(self) -> AlertKey:
        return (self.sender, self.identifier, self.sent)


@dataclass(frozen=True)
class CapInfo:
    """What ARCA takes from one ``info`` block."""

    severity: int
    onset: datetime | None  # onset or effective, when given
    expires: datetime | None
    location: str | None
    magnitude: float | None
    description: str | None


@dataclass(frozen=True)
class CapAlert:
    """A validated CAP 1.2 alert."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    references: tuple[CapRef, ...] = ()
    infos: tuple[CapInfo, ...] = ()

    @property
    def key(self) -> AlertKey:
        return (self.sender, self.identifier, self.sent)

    def own_ids(self) -> list[str]:
        """The incident ids an Alert opens: one per ``info`` block."""
        if len(self.infos) <= 1:
            return [self.identifier]
        return [f"{self.identifier}#{i + 1}" for i in range(len(self.infos))]

    def expired(self, now: datetime | None) -> bool:
        """Every ``info`` has an ``expires`` at or before ``now`` (never without a clock)."""
        return (now is not None and bool(self.infos)
                and all(i.expires is not None and i.expires <= now for i in self.infos))

    def ignored(self) -> str | None:
        """Why CAP 1.2 says not to act on this alert (None: act on it)."""
        if self.status in IGNORED_STATUS:
            return IGNORED_STATUS[self.status]
        if self.msg_type not in ("Alert", "Update", "Cancel"):
            return "cap_not_alert"
        return None


@dataclass(frozen=True)
class CapResult:
    """The events of one alert, or why it produced none (``ignored`` reason class)."""

    events: list[ExternalEvent]
    ignored: str | None = None
    flags: list[str] = field(default_factory=list)


def _text(parent: Element, name: str, path: str, *, required: bool = True) -> str | None:
    child = parent.find(_NS + name)
    if child is None or not (child.text or "").strip():
        if required:
            raise IngestError("cap", f"{path}/{name}", "required CAP 1.2 element missing or empty")
        return None
    return (child.text or "").strip()


def _enum(value: str | None, allowed: set[str] | dict[str, int], path: str) -> str:
    if value is None or value not in allowed:
        raise IngestError("cap", path, f"{value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def parse_alert_xml(data: bytes | str, max_bytes: int = 262144) -> Element:
    """Parse safely: size limit, no DTD, no entities, no external references; root must be CAP 1.2."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise IngestError(
            "too_large", "/alert", f"CAP document of {len(raw)} bytes > {max_bytes}", status=413
        )
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise IngestError("xml_forbidden", "/", f"forbidden XML construct: {exc!r}") from None
    except ParseError as exc:
        raise IngestError("xml", "/", f"not well-formed XML: {exc}") from None
    if root.tag != _NS + "alert":
        raise IngestError("cap", "/", f"root element must be {{{CAP_NS}}}alert, found {root.tag}")
    return root


def parse_references(references: str, path: str) -> tuple[CapRef, ...]:
    """The alerts a ``references`` value names (whitespace-separated ``sender,identifier,sent``)."""
    refs = []
    for item in references.split():
        parts = item.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise IngestError("cap", path, f"reference {item!r} is not 'sender,identifier,sent'")
        refs.append(CapRef(parts[0], parts[1], parse_datetime(parts[2], path)))
    return tuple(refs)


def referenced_ids(references: str, path: str) -> list[str]:
    """Identifiers of the alerts a ``references`` value names."""
    return [r.identifier for r in parse_references(references, path)]


def _info(info: Element, ip: str, scale: tuple[int, int]) -> CapInfo:
    categories = info.findall(_NS + "category")
    if not categories:
        raise IngestError("cap", f"{ip}/category", "required CAP 1.2 element missing")
    for j, cat in enumerate(categories):
        _enum((cat.text or "").strip(), CATEGORIES, f"{ip}/category[{j + 1}]")
    event = _text(info, "event", ip)
    urgency = _enum(_text(info, "urgency", ip), URGENCY, f"{ip}/urgency")
    severity = _enum(_text(info, "severity", ip), SEVERITY, f"{ip}/severity")
    certainty = _enum(_text(info, "certainty", ip), CERTAINTY, f"{ip}/certainty")
    onset_text = _text(info, "onset", ip, required=False)
    onset_path = f"{ip}/onset"
    if onset_text is None:
        onset_text, onset_path = _text(info, "effective", ip, required=False), f"{ip}/effective"
    onset = parse_datetime(onset_text, onset_path) if onset_text else None
    expires_text = _text(info, "expires", ip, required=False)
    expires = parse_datetime(expires_text, f"{ip}/expires") if expires_text else None
    area = info.find(_NS + "area")
    location = _text(area, "areaDesc", f"{ip}/area") if area is not None else None
    magnitude = None
    for k, param in enumerate(info.findall(_NS + "parameter")):
        pp = f"{ip}/parameter[{k + 1}]"
        if (_text(param, "valueName", pp, required=False) or "").lower() in MAGNITUDE_NAMES:
            magnitude, _unit = parse_number(_text(param, "value", pp) or "", f"{pp}/value", "magnitude")
    headline = _text(info, "headline", ip, required=False)
    return CapInfo(cap_severity(severity, urgency, certainty, scale), onset, expires, location, magnitude,
                   headline or event)


def parse_alert(data: bytes | str, scale: tuple[int, int] = (0, 4), max_bytes: int = 262144) -> CapAlert:
    """Validate one CAP 1.2 alert (pure; raises ``IngestError`` naming the element)."""
    root = parse_alert_xml(data, max_bytes)
    p = "/alert"
    identifier = _text(root, "identifier", p)
    sender = _text(root, "sender", p)
    sent = parse_datetime(_text(root, "sent", p), f"{p}/sent")
    status = _enum(_text(root, "status", p), STATUS, f"{p}/status")
    msg_type = _enum(_text(root, "msgType", p), MSG_TYPES, f"{p}/msgType")
    _enum(_text(root, "scope", p), SCOPES, f"{p}/scope")
    assert identifier is not None and sender is not None
    references_text = _text(root, "references", p, required=msg_type in ("Update", "Cancel"))
    references = parse_references(references_text, f"{p}/references") if references_text else ()
    infos = root.findall(_NS + "info")
    if not infos and msg_type != "Cancel":
        raise IngestError("cap", f"{p}/info", "an Alert/Update needs at least one info block")
    parsed = tuple(_info(info, f"{p}/info[{i + 1}]", scale) for i, info in enumerate(infos))
    return CapAlert(identifier, sender, sent, status, msg_type, references, parsed)


def _message_id(alert: CapAlert, incident: str) -> str:
    """The same alert is the same message (see ``arca.collector.events.to_external_event``): the id derives
    from what CAP identifies an alert by (sender, identifier, sent) and the incident it speaks of."""
    return derived_id("cap", alert.sender, alert.identifier, alert.sent.isoformat(), incident)


class CapMemory:
    """What the collector remembers of the alerts it accepted: duplicates and incident ids.

    Bounded (``limit`` alerts, oldest forgotten first); not thread-safe (the ingestor locks)."""

    def __init__(self, limit: int = 10000) -> None:
        self.limit = limit
        self.alerts: OrderedDict[AlertKey, list[str]] = OrderedDict()
        self.onsets: OrderedDict[str, datetime] = OrderedDict()

    def is_duplicate(self, alert: CapAlert) -> bool:
        return alert.key in self.alerts

    def referenced(self, alert: CapAlert) -> list[str]:
        """The incident ids the alert's references resolve to (unknown: the referenced identifier)."""
        ids: list[str] = []
        for ref in alert.references:
            for incident in self.alerts.get(ref.key, [ref.identifier]):
                if incident not in ids:
                    ids.append(incident)
        return ids

    def onset_of(self, incident: str) -> datetime | None:
        return self.onsets.get(incident)

    def record(self, alert: CapAlert, incidents: list[str], events: list[ExternalEvent]) -> None:
        self.alerts[alert.key] = incidents
        for ev in events:
            if ev.cancelled:
                self.onsets.pop(ev.event_id, None)
            else:
                self.onsets[ev.event_id] = ev.onset
        while len(self.alerts) > self.limit:
            self.alerts.popitem(last=False)
        while len(self.onsets) > self.limit:
            self.onsets.popitem(last=False)


def events_for(alert: CapAlert, memory: CapMemory | None, now: datetime | None = None, *,
               system: str | None = None, producer: str = "collector") -> CapResult:
    """The events an accepted, actionable alert publishes, given what ``memory`` knows (pure)."""
    memory = memory if memory is not None else CapMemory()
    expired = alert.expired(now)
    if expired and alert.msg_type == "Alert":
        last = max(i.expires for i in alert.infos if i.expires is not None)
        return CapResult([], ignored="cap_expired", flags=[f"expired at {last.isoformat()}"])
    references = " ".join(r.identifier for r in alert.references) or None
    common: dict[str, Any] = dict(event_time=alert.sent, producer=producer, source=alert.sender,
                                  payload_kind="cap", references=references, system=system)
    if alert.msg_type == "Alert":
        return CapResult([
            ExternalEvent(event_id=incident, onset=info.onset or alert.sent, severity=info.severity,
                          location=info.location, magnitude=info.magnitude,
                          description=info.description, message_id=_message_id(alert, incident), **common)
            for incident, info in zip(alert.own_ids(), alert.infos, strict=True)
        ])
    incidents = memory.referenced(alert)
    ref_sent = {r.identifier: r.sent for r in alert.references}
    if alert.msg_type == "Cancel" or expired:
        flags = ["expired: ends the referenced incidents"] if expired and alert.msg_type != "Cancel" else []
        return CapResult([
            ExternalEvent(event_id=incident, onset=memory.onset_of(incident)
                          or ref_sent.get(incident.split("#")[0], alert.sent), cancelled=True,
                          message_id=_message_id(alert, incident), **common)
            for incident in incidents
        ], flags=flags)
    paired = len(alert.infos) == len(incidents)
    strongest = max(alert.infos, key=lambda i: i.severity)
    events = []
    for k, incident in enumerate(incidents):
        info = alert.infos[k] if paired else strongest
        onset = info.onset or memory.onset_of(incident) or ref_sent.get(incident.split("#")[0], alert.sent)
        events.append(ExternalEvent(event_id=incident, onset=onset, severity=info.severity,
                                    location=info.location, magnitude=info.magnitude,
                                    description=info.description,
                                    message_id=_message_id(alert, incident), **common))
    return CapResult(events)


def alert_to_events(
    data: bytes | str,
    scale: tuple[int, int] = (0, 4),
    *,
    system: str | None = None,
    max_bytes: int = 262144,
    producer: str = "collector",
    now: datetime | None = None,
    memory: CapMemory | None = None,
) -> CapResult:
    """Validate one CAP 1.2 alert and map it (raises ``IngestError``); without ``memory``, as if it
    were the first alert seen (references resolve to the referenced identifiers)."""
    alert = parse_alert(data, scale, max_bytes)
    reason = alert.ignored()
    if reason:
        return CapResult([], ignored=reason)
    return events_for(alert, memory, now, system=system, producer=producer)
