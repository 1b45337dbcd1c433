"""OASIS Common Alerting Protocol 1.2 alerts -> ``ExternalEvent`` (payload_kind ``"cap"``).

XML is parsed with defusedxml (DTDs, entity declarations and external references forbidden) after a
size check. Required elements are checked, enumerations too. Each ``info`` block becomes one event;
``msgType`` Update/Cancel carry ``references`` (the referenced alerts' identifiers, space-separated)
and Cancel sets ``cancelled``. Severity mapping (documented in ``docs/collector.md``): CAP severity
Extreme 4, Severe 3, Moderate 2, Minor 1, Unknown 0; minus 1 if certainty is Possible, minus 2 if
Unlikely; minus 1 if urgency is Future; urgency Past -> 0; clamped to the configured scale.
Only ``status`` Actual alerts of ``msgType`` Alert/Update/Cancel produce events (others: ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from arca.messages import ExternalEvent
from arca.messages.ids import derived_id
from collector.errors import IngestError
from collector.events import parse_datetime

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


def cap_severity(severity: str, urgency: str, certainty: str, scale: tuple[int, int] = (0, 4)) -> int:
    """ARCA severity of one CAP ``info`` (see the module docstring)."""
    low, high = scale
    if urgency == "Past":
        return low
    value = SEVERITY[severity] - CERTAINTY_PENALTY.get(certainty, 0) - (1 if urgency == "Future" else 0)
    return max(low, min(high, value))


@dataclass(frozen=True)
class CapResult:
    """The events of one alert, or why it produced none (``ignored`` reason class)."""

    events: list[ExternalEvent]
    ignored: str | None = None


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


def referenced_ids(references: str, path: str) -> list[str]:
    """Identifiers of the alerts a ``references`` value names (``sender,identifier,sent`` triples)."""
    ids = []
    for item in references.split():
        parts = item.split(",")
        if len(parts) != 3 or not parts[1]:
            raise IngestError("cap", path, f"reference {item!r} is not 'sender,identifier,sent'")
        ids.append(parts[1])
    return ids


def alert_to_events(
    data: bytes | str,
    scale: tuple[int, int] = (0, 4),
    *,
    system: str | None = None,
    max_bytes: int = 262144,
    producer: str = "collector",
) -> CapResult:
    """Validate one CAP 1.2 alert and map it (pure; raises ``IngestError``)."""
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
    references = (
        " ".join(referenced_ids(references_text, f"{p}/references")) if references_text else None
    )
    infos = root.findall(_NS + "info")
    if not infos and msg_type != "Cancel":
        raise IngestError("cap", f"{p}/info", "an Alert/Update needs at least one info block")
    parsed: list[dict[str, Any]] = []
    for i, info in enumerate(infos):
        ip = f"{p}/info[{i + 1}]"
        categories = info.findall(_NS + "category")
        if not categories:
            raise IngestError("cap", f"{ip}/category", "required CAP 1.2 element missing")
        for j, cat in enumerate(categories):
            _enum((cat.text or "").strip(), CATEGORIES, f"{ip}/category[{j + 1}]")
        event = _text(info, "event", ip)
        urgency = _enum(_text(info, "urgency", ip), URGENCY, f"{ip}/urgency")
        severity = _enum(_text(info, "severity", ip), SEVERITY, f"{ip}/severity")
        certainty = _enum(_text(info, "certainty", ip), CERTAINTY, f"{ip}/certainty")
        onset_text = _text(info, "onset", ip, required=False) or _text(info, "effective", ip, required=False)
        onset = parse_datetime(onset_text, f"{ip}/onset") if onset_text else sent
        area = info.find(_NS + "area")
        location = _text(area, "areaDesc", f"{ip}/area") if area is not None else None
        magnitude = None
        for param in info.findall(_NS + "parameter"):
            if (_text(param, "valueName", f"{ip}/parameter", required=False) or "").lower() == "magnitude":
                try:
                    magnitude = float(_text(param, "value", f"{ip}/parameter") or "")
                except ValueError:
                    raise IngestError("cap", f"{ip}/parameter/value", "magnitude is not a number") from None
        headline = _text(info, "headline", ip, required=False)
        parsed.append(dict(
            severity=cap_severity(severity, urgency, certainty, scale), onset=onset,
            location=location, magnitude=magnitude, description=headline or event,
        ))
    if status != "Actual":
        return CapResult([], ignored="cap_not_actual")
    if msg_type not in ("Alert", "Update", "Cancel"):
        return CapResult([], ignored="cap_not_alert")
    common: dict[str, Any] = dict(event_time=sent, producer=producer, source=sender, payload_kind="cap",
                  references=references, cancelled=msg_type == "Cancel", system=system)
    if not parsed:
        return CapResult([ExternalEvent(event_id=identifier, onset=sent, **common,
                                        message_id=derived_id("cap", sender, identifier))])
    ids = [identifier if len(parsed) == 1 else f"{identifier}#{i + 1}" for i in range(len(parsed))]
    events = [  # the same alert is the same message (see collector.events.to_external_event)
        ExternalEvent(event_id=ids[i], message_id=derived_id("cap", sender, ids[i]), **fields, **common)
        for i, fields in enumerate(parsed)
    ]
    return CapResult(events)
