"""CAP 1.2 alerts: safe parsing, required elements, severity mapping, Update/Cancel references."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arca.analyzer.situation import AnalyzerConfig, SystemView
from arca.collector.cap import alert_to_events, cap_severity, parse_alert, parse_number
from arca.collector.errors import IngestError
from arca.collector.ingest import Ingestor
from arca.collector.settings import CollectorSettings
from arca.messages import ExternalEvent, decode, encode

CAP = Path(__file__).resolve().parents[1] / "data" / "collector" / "cap"


def read(name: str) -> bytes:
    return (CAP / name).read_bytes()


def _alert(body: str, extra: str = "") -> str:
    return f"""<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>X1</identifier><sender>s@example.org</sender><sent>2026-11-22T02:00:00Z</sent>
  <status>Actual</status>{extra}<scope>Public</scope>{body}</alert>"""


INFO = ("<info><category>Geo</category><event>Quake</event><urgency>Immediate</urgency>"
        "<severity>Severe</severity><certainty>Observed</certainty></info>")

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


def test_update_carries_the_referenced_incident() -> None:
    [ev] = alert_to_events(read("thunderstorm-update.xml")).events
    assert ev.event_id == "KSTO1055887200"  # the incident it changes, not a new one
    assert ev.references == "KSTO1055887200" and not ev.cancelled
    assert ev.severity == 3 and ev.description == "SEVERE THUNDERSTORM WARNING"


def test_cancel_without_info_ends_the_referenced_incident() -> None:
    [ev] = alert_to_events(read("earthquake-cancel.xml")).events
    assert ev.cancelled and ev.event_id == "JMA-EQ-20261122-0001"
    assert ev.references == "JMA-EQ-20261122-0001"
    assert ev.severity is None


def test_exercise_alerts_are_ignored_not_published() -> None:
    result = alert_to_events(read("exercise.xml"))
    assert result.events == [] and result.ignored == "cap_exercise"


@pytest.mark.parametrize(("status", "reason"), [("Test", "cap_test"), ("Exercise", "cap_exercise"),
                                                 ("Draft", "cap_draft"), ("System", "cap_system")])
def test_statuses_cap_says_not_to_act_on_are_ignored_with_their_reason(status: str, reason: str) -> None:
    ing, out = _ingestor()
    doc = _alert(INFO, "<msgType>Alert</msgType>").replace("<status>Actual</status>",
                                                          f"<status>{status}</status>")
    outcome = ing.cap_alert(doc)
    assert (outcome.status, outcome.flags) == ("ignored", [reason]) and out == []
    assert ing.rejections[("cap", reason)] == 1


def test_ack_messages_are_not_alerts() -> None:
    ing, out = _ingestor()
    outcome = ing.cap_alert(_alert(INFO, "<msgType>Ack</msgType>"))
    assert (outcome.status, outcome.flags, out) == ("ignored", ["cap_not_alert"], [])


# --- numeric parameters as feeds write them --------------------------------------------------------

@pytest.mark.parametrize(("text", "value", "unit"), [
    ("3.4", 3.4, None), ("3.4 Ml", 3.4, "Ml"), ("6 mag", 6.0, "mag"), ("5,2", 5.2, None),
    ("M6.1", 6.1, "M"), ("Mw 6.1", 6.1, "Mw"), ("-0.5", -0.5, None), (" 11.8 mi. ", 11.8, "mi."),
    ("7,0 ML", 7.0, "ML"),
], ids=["plain", "unit-after", "mag", "decimal-comma", "prefix", "prefix-space", "negative", "dotted-unit",
        "comma-and-unit"])
def test_numbers_with_units_are_read(text: str, value: float, unit: str | None) -> None:
    assert parse_number(text, "/x") == (value, unit)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "", "abc", "3.4.5", "--1", "3,4,5", "1e5",
                                  "0x10", "NaN Ml"])
def test_numbers_that_are_not_are_refused_with_the_path(text: str) -> None:
    with pytest.raises(IngestError) as err:
        parse_number(text, "/alert/info[1]/parameter[1]/value")
    assert (err.value.reason, err.value.path) == ("cap", "/alert/info[1]/parameter[1]/value")


def _with_magnitude(value: str) -> str:
    info = INFO.replace("</info>", f"<parameter><valueName>magnitude</valueName><value>{value}</value>"
                        "</parameter></info>")
    return _alert(info, "<msgType>Alert</msgType>")


def test_magnitude_with_unit_reaches_the_event() -> None:
    [ev] = alert_to_events(_with_magnitude("6 mag")).events
    assert ev.magnitude == 6.0


# --- the three example alerts of the CAP 1.2 standard (appendix A) --------------------------------

OASIS = [  # fixture, severity (documented in docs/collector.md), event id, magnitude
    ("oasis-a1-homeland-security.xml", 3, "43b080713727", None),  # Severe, Immediate, Likely
    ("oasis-a2-thunderstorm.xml", 3, "KSTO1055887203", None),  # Severe, Immediate, Observed
    ("oasis-a3-earthquake-update.xml", 0, "TRI13970876.1", 3.4),  # Minor but Past: over; Update of .1
]


def _ingestor(now: datetime | None = None) -> tuple[Ingestor, list[ExternalEvent]]:
    out: list[Any] = []
    return Ingestor(CollectorSettings(), out.append, now=(lambda: now) if now else None), out


@pytest.mark.parametrize(("name", "severity", "incident", "magnitude"), OASIS,
                         ids=["a1-hsas", "a2-storm", "a3-quake"])
def test_oasis_examples_are_accepted_and_a_repost_is_a_duplicate(
        name: str, severity: int, incident: str, magnitude: float | None) -> None:
    alert = parse_alert(read(name))
    ing, out = _ingestor(alert.sent)  # received when it was sent: live
    first = ing.cap_alert(read(name))
    assert first.status == "accepted", first.flags
    [ev] = out
    assert (ev.severity, ev.event_id, ev.magnitude) == (severity, incident, magnitude)
    assert ev.source == alert.sender
    assert decode(encode(ev)) == ev
    again = ing.cap_alert(read(name))
    assert again.status == "duplicate" and len(out) == 1


def test_a_repost_sent_again_later_is_a_new_alert_not_a_duplicate() -> None:
    ing, out = _ingestor(datetime(2003, 4, 2, 20, tzinfo=UTC))
    doc = read("oasis-a1-homeland-security.xml").decode()
    assert ing.cap_alert(doc).status == "accepted"
    assert ing.cap_alert(doc.replace("14:39:01-05:00</sent>", "14:49:01-05:00</sent>")).status == "accepted"
    assert len(out) == 2 and out[0].event_id == out[1].event_id == "43b080713727"


def test_the_earthquake_update_changes_the_incident_it_references() -> None:
    ing, out = _ingestor(datetime(2003, 6, 12, 4, tzinfo=UTC))
    assert ing.cap_alert(read("earthquake-original-constructed.xml")).status == "accepted"
    assert ing.cap_alert(read("oasis-a3-earthquake-update.xml")).status == "accepted"
    original, update = out
    assert original.event_id == update.event_id == "TRI13970876.1"
    assert (original.severity, original.magnitude) == (2, 3.6)
    assert (update.severity, update.magnitude, update.references) == (0, 3.4, "TRI13970876.1")
    assert update.onset == original.onset  # the incident keeps its onset: elapsed time does not restart
    view = SystemView("emergency", AnalyzerConfig())
    for ev in out:
        view.announce(ev)
    assert list(view.incidents) == ["TRI13970876.1"]
    assert view.incidents["TRI13970876.1"].severity == 0


def _cancel(refs: str, ident: str = "C1") -> str:
    return _alert("", f"<msgType>Cancel</msgType><references>{refs}</references>").replace(
        "<identifier>X1</identifier>", f"<identifier>{ident}</identifier>")


def test_cancel_ends_every_incident_of_the_referenced_alert() -> None:
    ing, out = _ingestor(datetime(2026, 11, 22, 3, tzinfo=UTC))
    assert ing.cap_alert(read("earthquake-severe.xml")).status == "accepted"  # two info blocks
    opened = [e.event_id for e in out]
    ref = "quake-detector@hq.example.org,JMA-EQ-20261122-0001,2026-11-22T02:00:05+00:00"
    assert ing.cap_alert(_cancel(ref)).status == "accepted"
    ended = out[len(opened):]
    assert [e.event_id for e in ended] == opened == ["JMA-EQ-20261122-0001#1", "JMA-EQ-20261122-0001#2"]
    assert all(e.cancelled for e in ended)
    view = SystemView("emergency", AnalyzerConfig())
    for ev in out:
        view.announce(ev)
    assert view.incidents == {}


def test_an_update_of_an_update_stays_on_the_first_incident() -> None:
    ing, out = _ingestor(datetime(2003, 6, 12, 4, tzinfo=UTC))
    ing.cap_alert(read("earthquake-original-constructed.xml"))
    ing.cap_alert(read("oasis-a3-earthquake-update.xml"))
    third = read("oasis-a3-earthquake-update.xml").decode().replace("TRI13970876.2", "TRI13970876.3").replace(
        "<references>trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00",
        "<references>trinet@caltech.edu,TRI13970876.2,2003-06-11T20:56:00-07:00").replace(
        "20:56:00-07:00</sent>", "21:10:00-07:00</sent>")
    assert ing.cap_alert(third).status == "accepted"
    assert [e.event_id for e in out] == ["TRI13970876.1"] * 3


def test_an_expired_alert_is_refused_with_the_reason() -> None:
    ing, out = _ingestor(datetime(2026, 11, 30, tzinfo=UTC))  # the 2003 storm warning expired long ago
    outcome = ing.cap_alert(read("oasis-a2-thunderstorm.xml"))
    assert outcome.status == "ignored" and outcome.flags[0] == "cap_expired" and out == []
    assert "2003-06-17T23:00:00+00:00" in outcome.flags[1]
    assert ing.rejections[("cap", "cap_expired")] == 1


def test_an_expired_update_is_accepted_as_ending_the_incident_it_references() -> None:
    storm = read("oasis-a2-thunderstorm.xml").decode()
    ing, out = _ingestor(datetime(2003, 6, 17, 22, tzinfo=UTC))  # 15:00 PDT: live
    assert ing.cap_alert(storm).status == "accepted"
    update = storm.replace("KSTO1055887203", "KSTO1055887204").replace(
        "<msgType>Alert</msgType>", "<msgType>Update</msgType><references>"
        "KSTO@NWS.NOAA.GOV,KSTO1055887203,2003-06-17T14:57:00-07:00</references>").replace(
        "14:57:00-07:00</sent>", "15:30:00-07:00</sent>")
    ing.now = lambda: datetime(2003, 6, 18, 0, tzinfo=UTC)  # 17:00 PDT: past its 16:00 expiry
    outcome = ing.cap_alert(update)
    assert outcome.status == "accepted"
    [ended] = outcome.messages
    assert isinstance(ended, ExternalEvent) and ended.cancelled and ended.event_id == "KSTO1055887203"
    assert ended.onset == out[0].onset


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


# --- crashes found by fuzzing, now clean refusals --------------------------------------------------

@pytest.mark.parametrize(("sent", "path"), [
    ("0001-01-01T00:00:00+01:00", "/alert/sent"), ("9999-12-31T23:59:59-01:00", "/alert/sent"),
], ids=["before-datetime-min-in-utc", "after-datetime-max-in-utc"])
def test_extreme_dates_are_refused_not_crashing(sent: str, path: str) -> None:
    with pytest.raises(IngestError) as err:
        alert_to_events(_alert(INFO, "<msgType>Alert</msgType>").replace("2026-11-22T02:00:00Z", sent))
    assert (err.value.reason, err.value.path) == ("datetime", path)


def test_nan_magnitude_is_refused_naming_the_value() -> None:
    with pytest.raises(IngestError) as err:
        alert_to_events(_with_magnitude("nan"))
    assert (err.value.reason, err.value.path) == ("cap", "/alert/info[1]/parameter[1]/value")


@settings(max_examples=150, deadline=None)
@given(sent=st.text(max_size=40), magnitude=st.text(max_size=20), expires=st.text(max_size=40))
def test_any_text_in_dates_and_numbers_is_accepted_or_refused_never_a_crash(
        sent: str, magnitude: str, expires: str) -> None:
    from xml.sax.saxutils import escape

    info = INFO.replace("</info>", f"<expires>{escape(expires)}</expires><parameter>"
                        f"<valueName>mag</valueName><value>{escape(magnitude)}</value></parameter></info>")
    doc = _alert(info, "<msgType>Alert</msgType>").replace("2026-11-22T02:00:00Z", escape(sent))
    try:
        result = alert_to_events(doc, now=datetime(2026, 11, 30, tzinfo=UTC))
    except IngestError:
        return
    for ev in result.events:
        assert ev.magnitude is None or ev.magnitude == ev.magnitude  # never NaN
