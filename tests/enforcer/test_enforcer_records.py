"""Table tests of what the enforcer stores of its ``Enforcement`` reports (``arca.enforcer.records``):
every action's outcome, every refusal, a refusal repeated within the interval left out and counted
in the next one stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.enforcer.records import Kept, RefusalKey, refusal_key, to_store
from arca.messages import Enforcement

T0 = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
FREQ = "refused by guard frequency: scale-out refused: 2 already in the last 600s (limit 2)"
BLACKOUT = "refused by guard blackout: scale-out refused during blackout '* 22:00-23:00'"


def enf(at_s: float, action: str = "refill_pool", outcome: str = "skipped", detail: str = FREQ,
        target: str = "arca-emergency-5", system: str = "emergency") -> Enforcement:
    at = T0 + timedelta(seconds=at_s)
    return Enforcement(event_time=at, system=system, action=action, driver="openstack",
                       outcome=outcome, desired_servants=6, active_servants=4,  # type: ignore[arg-type]
                       started_at=at, target=target, detail=detail)


CASES = [
    # id, reports in order, interval s, which are stored (by index), note expected on the stored ones
    ("actions-always-stored", [enf(0, "create_servant", "succeeded", "ok")] * 3, 60, [0, 1, 2], {}),
    ("failed-action-stored", [enf(0, "create_servant", "failed", "boot timeout"),
                              enf(1, "create_servant", "failed", "boot timeout")], 60, [0, 1], {}),
    ("first-refusal-stored", [enf(0)], 60, [0], {}),
    ("repeat-within-interval-left-out", [enf(0), enf(30)], 60, [0], {}),
    ("repeat-after-interval-stored-with-count", [enf(0), enf(30), enf(45), enf(61)], 60, [0, 3],
     {3: " [2 more like it since 2026-12-06T22:00:30+00:00 not stored]"}),
    ("repeat-after-interval-without-left-out-has-no-note", [enf(0), enf(60)], 60, [0, 1], {}),
    ("other-servant-is-another-refusal", [enf(0), enf(1, target="arca-emergency-6")], 60, [0, 1], {}),
    ("other-guard-is-another-refusal", [enf(0), enf(1, detail=BLACKOUT)], 60, [0, 1], {}),
    ("other-system-is-another-refusal", [enf(0), enf(1, system="quiet")], 60, [0, 1], {}),
    ("other-action-is-another-refusal", [enf(0), enf(1, action="resume_servant")], 60, [0, 1], {}),
    ("interval-zero-stores-every-one", [enf(0), enf(0), enf(1)], 0, [0, 1, 2], {}),
    ("skipped-not-refused-is-an-outcome", [enf(0, "osm_scale", "skipped", "nothing to do")] * 2, 60,
     [0, 1], {}),
]


@pytest.mark.parametrize(("reports", "interval", "stored", "notes"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_what_is_stored(reports: list[Enforcement], interval: float, stored: list[int],
                        notes: dict[int, str]) -> None:
    kept: dict[RefusalKey, Kept] = {}
    out: dict[int, Enforcement] = {}
    for i, e in enumerate(reports):
        record, kept = to_store(e, kept, interval)
        if record is not None:
            out[i] = record
    assert sorted(out) == stored
    for i, record in out.items():
        assert record.message_id == reports[i].message_id
        assert record.detail == reports[i].detail + notes.get(i, "")


def test_note_keeps_the_detail_within_500_characters() -> None:
    long = "refused by guard frequency: " + "x" * 480
    kept: dict[RefusalKey, Kept] = {}
    for at in (0, 10, 70):
        record, kept = to_store(enf(at, detail=long), kept, 60)
    assert record is not None and len(record.detail) == 500
    assert record.detail.endswith("[1 more like it since 2026-12-06T22:00:10+00:00 not stored]")


def test_refusal_key() -> None:
    assert refusal_key(enf(0)) == (
        "emergency", "refill_pool", "arca-emergency-5", "refused by guard frequency")
    assert refusal_key(enf(0, detail="refused by policy: scale-in not allowed")) == (
        "emergency", "refill_pool", "arca-emergency-5", "refused by policy")
    assert refusal_key(enf(0, "create_servant", "succeeded", "ok")) is None


def test_nothing_remembered_for_ever() -> None:
    kept: dict[RefusalKey, Kept] = {}
    _, kept = to_store(enf(0), kept, 60)
    _, kept = to_store(enf(61, "create_servant", "succeeded", "ok"), kept, 60)
    assert kept == {}  # the refusal's entry aged out: nothing was left out
