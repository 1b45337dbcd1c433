"""Timeline JSON: the shipped timelines, and validation errors that name the field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from arca.testbed.timeline import (
    TIMELINE_DIR,
    TimelineError,
    load_timeline,
    loads_timeline,
    parse_timeline,
    reference_timeline,
    training_timeline,
)


def test_reference_timeline_has_every_severity_twice_with_quiet_periods() -> None:
    tl = reference_timeline()
    assert 600 <= tl.duration_s <= 900
    counts = Counter(i.severity for i in tl.incidents)
    assert all(counts[s] >= 2 for s in (1, 2, 3, 4))
    gaps = [b.at_s - a.at_s for a, b in zip(tl.incidents, tl.incidents[1:], strict=False)]
    assert min(gaps) >= 60  # bursts are over by 35 s: at least 25 s of quiet between incidents


def test_training_timeline_differs_and_is_richer() -> None:
    ref, train = reference_timeline(), training_timeline()
    assert len(train.incidents) > len(ref.incidents)
    assert [(i.at_s, i.severity) for i in train.incidents] != [(i.at_s, i.severity) for i in ref.incidents]
    assert train.seed != ref.seed
    assert all(Counter(i.severity for i in train.incidents)[s] >= 4 for s in (1, 2, 3, 4))


def test_bare_names_load_shipped_timelines() -> None:
    assert load_timeline("reference") == reference_timeline()


def test_incidents_are_sorted() -> None:
    tl = loads_timeline(
        json.dumps(
            {
                "duration_s": 100,
                "incidents": [
                    {"at_s": 50, "severity": 1, "domain": "hq"},
                    {"at_s": 10, "severity": 2, "domain": "hq"},
                ],
            }
        )
    )
    assert [i.at_s for i in tl.incidents] == [10, 50]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"duration_s": 100, "incidents": [{"at_s": 10, "severity": 5, "domain": "hq"}]},
            "incidents[0].severity",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 10, "severity": 2, "domain": "building-9"}]},
            "domain must be one of",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 150, "severity": 2, "domain": "hq"}]},
            "incidents[0].at_s: 150.0 is not before duration_s",
        ),
        ({"duration_s": 100, "failures": [{"at_s": 10, "servants": 0}]}, "failures[0].servants"),
        ({"duration_s": -1}, "duration_s"),
        ({"incidents": []}, "duration_s: Field required"),
        ({"duration_s": 100, "seeds": 3}, "seeds: Extra inputs are not permitted"),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 1, "domain": "hq", "x": 1}]},
            "incidents[0].x",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 3, "domain": "hq",
                                               "detector": {"severity_error": 2}}]},
            "incidents[0].detector.severity_error: +2 reports severity 5, outside 1..4",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 3, "domain": "hq",
                                               "detector": {"severity_error": -4}}]},
            "incidents[0].detector.severity_error",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 3, "domain": "hq",
                                               "detector": {"delay_s": -1}}]},
            "incidents[0].detector.delay_s",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 3, "domain": "hq",
                                               "detector": {"missed": "perhaps"}}]},
            "incidents[0].detector.missed",
        ),
        (
            {"duration_s": 100, "incidents": [{"at_s": 1, "severity": 3, "domain": "hq",
                                               "detector": {"late": 3}}]},
            "incidents[0].detector.late: Extra inputs are not permitted",
        ),
        ({"duration_s": 100, "false_alarms": [{"at_s": 120, "severity": 2, "domain": "hq"}]},
         "false_alarms[0].at_s: 120.0 is not before duration_s"),
        ({"duration_s": 100, "false_alarms": [{"at_s": 20, "severity": 0, "domain": "hq"}]},
         "false_alarms[0].severity"),
        ({"duration_s": 100, "false_alarms": [{"at_s": 20, "severity": 2, "domain": "lobby"}]},
         "false_alarms[0]: Value error, domain must be one of"),
        ({"duration_s": 100, "false_alarms": [{"at_s": 20, "severity": 2}]}, "false_alarms[0].domain"),
    ],
    ids=[
        "severity-too-high",
        "unknown-domain",
        "after-the-end",
        "zero-servants",
        "negative-duration",
        "missing-duration",
        "unknown-top-field",
        "unknown-incident-field",
        "severity-error-above-4",
        "severity-error-out-of-range",
        "negative-detector-delay",
        "missed-not-a-boolean",
        "unknown-detector-field",
        "false-alarm-after-the-end",
        "false-alarm-severity-0",
        "false-alarm-unknown-domain",
        "false-alarm-without-domain",
    ],
)
def test_bad_timelines_name_the_field(doc: dict[str, object], message: str) -> None:
    with pytest.raises(TimelineError) as err:
        loads_timeline(json.dumps(doc))
    assert message in str(err.value)


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TimelineError, match="not JSON"):
        loads_timeline("{nope")
    with pytest.raises(TimelineError, match="cannot read"):
        load_timeline(tmp_path / "absent.json")


SHIPPED = sorted(p.stem for p in TIMELINE_DIR.glob("*.json"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_timeline_is_valid_and_documented(name: str) -> None:
    tl = load_timeline(name)
    assert tl.incidents and tl.description
    docs = (Path(__file__).resolve().parents[2] / "docs" / "testbed.md").read_text()
    assert f"`{name}.json`" in docs


def _incident(at_s: float, severity: int, **detector: object) -> dict[str, object]:
    doc: dict[str, object] = {"at_s": at_s, "severity": severity, "domain": "building-2"}
    if detector:
        doc["detector"] = detector
    return doc


@pytest.mark.parametrize(
    ("incidents", "false_alarms", "expected"),
    [
        ([_incident(10, 3)], [], [(10.5, 10, 3, 0)]),
        ([_incident(10, 3, missed=True), _incident(50, 2)], [], [(50.5, 50, 2, 1)]),
        ([_incident(10, 3, severity_error=-2)], [], [(10.5, 10, 1, 0)]),
        ([_incident(10, 1, severity_error=3)], [], [(10.5, 10, 4, 0)]),
        ([_incident(10, 3, delay_s=8), _incident(15, 2)], [], [(15.5, 15, 2, 1), (18.5, 10, 3, 0)]),
        ([_incident(10, 3)], [{"at_s": 5, "severity": 4, "domain": "hq"}],
         [(5.5, 5, 4, None), (10.5, 10, 3, 0)]),
    ],
    ids=["perfect", "missed", "reported-lower", "reported-higher", "late-overtaken", "false-alarm"],
)
def test_notifications_follow_the_detectors_imperfections(
        incidents: list[dict[str, object]], false_alarms: list[dict[str, object]],
        expected: list[tuple[float, float, int, int | None]]) -> None:
    tl = parse_timeline({"duration_s": 100, "incidents": incidents, "false_alarms": false_alarms})
    notes = tl.notifications(0.5)
    assert [(n.at_s, n.onset_s, n.severity, n.incident) for n in notes] == expected
    assert tl.imperfect == (expected != [(10.5, 10, 3, 0)])


def test_false_alarms_and_detector_errors_leave_the_demand_alone() -> None:
    from arca.testbed.demand import Demand

    clean = parse_timeline({"duration_s": 100, "incidents": [_incident(10, 3)]})
    noisy = parse_timeline({"duration_s": 100, "incidents": [_incident(10, 3, severity_error=1, delay_s=5)],
                            "false_alarms": [{"at_s": 40, "severity": 4, "domain": "hq"}]})
    a, b = Demand(clean), Demand(noisy)
    assert [a.total(t) for t in range(100)] == [b.total(t) for t in range(100)]
