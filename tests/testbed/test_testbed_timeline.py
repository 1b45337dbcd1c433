"""Timeline JSON: the shipped timelines, and validation errors that name the field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from testbed.timeline import (
    TimelineError,
    load_timeline,
    loads_timeline,
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
