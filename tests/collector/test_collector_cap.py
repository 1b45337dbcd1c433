"""CAP 1.2 alerts: safe parsing, required elements, severity mapping, Update/Cancel references."""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.messages import decode, encode
from collector.cap import alert_to_events, cap_severity
from collector.errors import IngestError

CAP = Path(__file__).resolve().parents[1] / "data" / "collector" / "cap"


def read(name: str) -> bytes:
    return (CAP / name).read_bytes()


@pytest.mark.parametrize(
    ("severity", "urgency", "certainty", "expected"),
    [
        ("Extreme", "Immediate", "Observed", 4),
        ("Severe", "Immediate", "Observed", 3),
        ("Moderate", "Expected", "Likely", 2),
        ("Minor", "Immediate", "Observed", 1),
        ("Unknown", "Immediate", "Observed", 0),
        ("Extreme", "Immediate", "Possible", 3),
        ("Extreme", "Immediate", "Unlikely", 2),
        ("Severe", "Future", "Likely", 2),
        ("Severe", "Future", "Unlikely", 0),
        ("Extreme", "Past", "Observed", 0),
        ("Minor", "Future", "Possible", 0),
    ],
    ids=["extreme", "severe", "moderate", "minor", "unknown", "possible-1", "unlikely-2",
         "future-1", "future-and-unlikely", "past-is-over", "clamped-at-0"],
)
def test_cap_severity_mapping(severity: str, urgency: str, certainty: str, expected: int) -> None:
    assert cap_severity(severity, urgency, certainty) == expected


def test_cap_severity_is_clamped_to_a_smaller_scale() -> None:
    assert cap_severity("Extreme", "Immediate", "Observed", (0, 2)) == 2


def test_usgs_earthquake_alert_maps_to_one_event() -> None:
    result = alert_to_events(read("earthquake-alert.xml"), system="emergency")
    [ev] = result.events
    assert (ev.event_id, ev.source, ev.payload_kind) == ("TRI13970876.2", "trinet@caltech.usgs.gov", "cap")
    assert ev.severity == 0  # Minor, but urgency Past: over
    assert ev.magnitude == 3.4
    assert ev.location and ev.location.startswith("1 mi. WSW of Brawley")
    assert ev.onset.isoformat() == "2003-06-12T03:56:00+00:00"
    assert decode(encode(ev)) == ev


def test_each_info_block_becomes_an_event() -> None:
    events = alert_to_events(read("earthquake-severe.xml")).events
    assert [e.event_id for e in events] == ["JMA-EQ-20261122-0001#1", "JMA-EQ-20261122-0001#2"]
    assert [e.severity for e in events] == [3, 3]
    assert events[0].magnitude == 6.1 and events[0].description == "M6.1 earthquake near headquarters"
    assert events[0].onset.isoformat() == "2026-11-22T02:00:00+00:00"


def test_update_references_the_earlier_alert() -> None:
    [ev] = alert_to_events(read("thunderstorm-update.xml")).events
    assert ev.references == "KSTO1055887200" and not ev.cancelled
    assert ev.severity == 3 and ev.description == "SEVERE THUNDERSTORM WARNING"


def test_cancel_without_info_cancels_the_referenced_alert() -> None:
    [ev] = alert_to_events(read("earthquake-cancel.xml")).events
    assert ev.cancelled and ev.references == "JMA-EQ-20261122-0001"
    assert ev.severity is None


def test_exercise_alerts_are_ignored_not_published() -> None:
    result = alert_to_events(read("exercise.xml"))
    assert result.events == [] and result.ignored == "cap_not_actual"


def _alert(body: str, extra: str = "") -> str:
    return f"""<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>X1</identifier><sender>s@example.org</sender><sent>2026-11-22T02:00:00Z</sent>
  <status>Actual</status>{extra}<scope>Public</scope>{body}</alert>"""


INFO = ("<info><category>Geo</category><event>Quake</event><urgency>Immediate</urgency>"
        "<severity>Severe</severity><certainty>Observed</certainty></info>")

REJECTED = [
    ("identifier-missing", read("missing-identifier.xml"), "cap", "/alert/identifier"),
    ("billion-laughs", read("billion-laughs.xml"), "xml_forbidden", "/"),
    ("external-entity", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>', "xml_forbidden", "/"),
    ("not-xml", b"<alert", "xml", "/"),
    ("not-cap-namespace", b"<alert><identifier>x</identifier></alert>", "cap", "/"),
    ("too-large", _alert(INFO, "<msgType>Alert</msgType>" + "<note>" + "x" * 300000 + "</note>").encode(),
     "too_large", "/alert"),
    ("msgType-missing", _alert(INFO).encode(), "cap", "/alert/msgType"),
    ("msgType-invalid", _alert(INFO, "<msgType>Warning</msgType>").encode(), "cap", "/alert/msgType"),
    ("update-without-references", _alert(INFO, "<msgType>Update</msgType>").encode(), "cap",
     "/alert/references"),
    ("bad-reference", _alert(INFO, "<msgType>Update</msgType><references>X0</references>").encode(), "cap",
     "/alert/references"),
    ("sent-not-rfc3339", _alert(INFO, "<msgType>Alert</msgType>").replace(
        "2026-11-22T02:00:00Z", "22/11/2026").encode(), "datetime", "/alert/sent"),
    ("alert-without-info", _alert("", "<msgType>Alert</msgType>").encode(), "cap", "/alert/info"),
    ("severity-invalid", _alert(INFO.replace("Severe", "Catastrophic"), "<msgType>Alert</msgType>").encode(),
     "cap", "/alert/info[1]/severity"),
    ("category-invalid", _alert(INFO.replace(">Geo<", ">Seismic<"), "<msgType>Alert</msgType>").encode(),
     "cap", "/alert/info[1]/category[1]"),
    ("urgency-missing", _alert(INFO.replace("<urgency>Immediate</urgency>", ""),
                               "<msgType>Alert</msgType>").encode(), "cap", "/alert/info[1]/urgency"),
]


@pytest.mark.parametrize(("data", "reason", "path"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_alerts_name_the_failing_element(data: bytes, reason: str, path: str) -> None:
    with pytest.raises(IngestError) as err:
        alert_to_events(data)
    assert (err.value.reason, err.value.path) == (reason, path), str(err.value)
