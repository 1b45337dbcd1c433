"""Issue 25 item 3, bounded knowledge: a situation refers to the incidents it carries (each stored once,
named by its content) instead of copying them, and the retention rules per kind delete what is no longer
needed -- the pure rule table-tested, the deletion on the real Oxigraph and Fuseki servers, the services'
periodic compaction and ``arca kb compact [--dry-run]``.

On main (before this change) a burst of N event situations stored N(N+1)/2 incident nodes and nothing
was ever deleted: ``test_a_burst_stores_each_incident_once`` and the compaction tests fail there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from arca.app.cli.main import main
from arca.app.settings import ArcaSettings, KbSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.config import (
    DecisionRetention,
    EnforcementRetention,
    KindRetention,
    RetentionSettings,
    SituationRetention,
)
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.kb.messages import graph_of, load_messages, store_message
from arca.kb.retention import OWNERS, Stored, candidates, compact, compact_all, expired, stored, triples
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import ActiveIncident, Decision, ExternalEvent, Situation
from arca.service import Deps
from arca.status import collect

T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


# -- the pure rule ----------------------------------------------------------------------------------
EXPIRED = [
    # id, rule (max_age_s, max_count, keep_latest), rows (id, key, age in s at now=1000), expected gone
    ("young-ones-stay", (100, 10, 1), [("a", "s", 10), ("b", "s", 50)], []),
    ("old-ones-go", (100, 10, 0), [("a", "s", 10), ("b", "s", 150)], ["b"]),
    ("the-latest-stays-however-old", (100, 10, 1), [("a", "s", 500), ("b", "s", 600)], ["b"]),
    ("keep-latest-counts-per-key", (100, 10, 1), [("a", "s", 500), ("b", "t", 600)], []),
    ("max-count-bounds-a-flood", (3600, 2, 1), [("a", "s", 1), ("b", "s", 2), ("c", "s", 3), ("d", "s", 4)],
     ["c", "d"]),
    ("max-count-per-key", (3600, 1, 1), [("a", "s", 1), ("b", "s", 2), ("c", "t", 3)], ["b"]),
    ("exactly-max-age-stays", (100, 10, 0), [("a", "s", 100)], []),
    ("keep-five-decisions", (100, 10, 5), [(f"d{i}", "s", 200 + i) for i in range(7)], ["d5", "d6"]),
    ("nothing-stored", (100, 10, 1), [], []),
    # rows left out as newer (only the candidates are read): their ranks come first
    ("newer-left-out-rank-first", (100, 10, 1), [("a", "s", 500), ("newer:s", "1", 0)], ["a"]),
    ("no-newer-the-oldest-is-the-latest", (100, 10, 1), [("a", "s", 500)], []),
    ("newer-counts-toward-keep-latest", (100, 10, 5), [("a", "s", 500), ("b", "s", 600), ("newer:s", "4", 0)],
     ["b"]),
]


@pytest.mark.parametrize(("rule", "rows", "gone"), [c[1:] for c in EXPIRED], ids=[c[0] for c in EXPIRED])
def test_expired(rule: tuple[float, int, int], rows: list[tuple[str, str, float]], gone: list[str]) -> None:
    r = KindRetention(max_age_s=rule[0], max_count=rule[1], keep_latest=rule[2])
    newer = {m.removeprefix("newer:"): int(key) for m, key, _ in rows if m.startswith("newer:")}
    given = [Stored(m, key, at(1000 - age)) for m, key, age in rows if not m.startswith("newer:")]
    assert expired(given, r, at(1000), newer) == gone


def test_keep_latest_beyond_max_count_is_refused() -> None:
    with pytest.raises(ValidationError, match="keep_latest"):
        KindRetention(max_age_s=60, max_count=2, keep_latest=3)


def test_every_kind_has_one_owner_and_a_rule() -> None:
    owned = [k for kinds in OWNERS.values() for k in kinds]
    assert sorted(owned) == sorted(set(owned)) == sorted(
        ["observation", "event", "situation", "alarm", "decision", "enforcement"])
    rules = RetentionSettings()
    assert rules.rule("decision").keep_latest >= 5  # arca status shows the last 5 decisions
    assert rules.rule("enforcement").keep_latest >= 20  # arca status reads the last 20 enforcements
    assert rules.rule("event").max_age_s >= 120  # the analyzer's rebuild: the last incident_ttl_s


# -- the real stores --------------------------------------------------------------------------------
@pytest.fixture
def kb(sparql_store: Any) -> Iterator[KnowledgeBase]:
    """A knowledge base on each real SPARQL server in turn (Oxigraph, Fuseki), emptied first."""
    store = SparqlKnowledgeBase(KbSettings.model_validate(sparql_store.kb_fields()))
    yield store
    store.close()


def incident(i: int) -> ActiveIncident:
    return ActiveIncident(incident_id=f"flood-{i}", severity=4, onset=at(i), source="seismo-flood")


def burst(n: int, start: float = 0.0) -> list[Situation]:
    """The situations of a burst of ``n`` events: each carries every incident announced so far."""
    return [Situation(event_time=at(start + i), system="emergency", servants_active=1, average_load=0.2,
                      trigger="event", incidents=tuple(incident(j) for j in range(i + 1)))
            for i in range(n)]


def count(kb: KnowledgeBase, what: str, kind: str = "situation") -> int:
    rows = kb.query(f"SELECT (COUNT(DISTINCT ?n) AS ?c) WHERE {{ GRAPH $g {{ ?n a arca:{what} }} }}",
                    g=graph_of(kind))
    return int(rows[0]["c"])


def test_a_burst_stores_each_incident_once(kb: KnowledgeBase) -> None:
    situations = burst(60)
    for s in situations:
        store_message(kb, s)
    kb.flush()
    assert count(kb, "Situation") == 60
    assert count(kb, "Incident") == 60  # copied per situation it would be 60 * 61 / 2 = 1830
    latest = load_messages(kb, Situation, "emergency", 2)
    assert latest == [situations[-1], situations[-2]]  # read back whole, each with its own incidents
    assert len(latest[0].incidents) == 60 and len(latest[1].incidents) == 59
    status = collect(kb, ["emergency"], now=at(60))
    assert status["systems"][0]["incident"]["id"] == "flood-59"


def test_compaction_deletes_old_situations_and_the_incidents_only_they_carried(kb: KnowledgeBase) -> None:
    for s in burst(10):  # t = 0..9, incidents flood-0..9
        store_message(kb, s)
    late = Situation(event_time=at(5000), system="emergency", servants_active=1, average_load=0.2,
                     trigger="event", incidents=(incident(7), incident(9)))
    store_message(kb, late)
    kb.flush()
    rule = KindRetention(max_age_s=3600, max_count=100, keep_latest=1)
    assert compact(kb, "situation", rule, at(5000), dry_run=True) == 10
    assert count(kb, "Situation") == 11  # a dry run deletes nothing
    assert compact(kb, "situation", rule, at(5000), sync=True) == 10
    assert count(kb, "Situation") == 1
    assert count(kb, "Incident") == 2  # flood-7 and flood-9 are still referenced, the rest went
    assert load_messages(kb, Situation, "emergency") == [late]
    assert compact(kb, "situation", rule, at(5000), sync=True) == 0


@pytest.mark.parametrize(("max_age_s", "max_count", "keep_latest"),
                         [(30, 100, 1), (30, 100, 12), (30, 8, 1), (1000, 5, 5), (5, 3, 0)],
                         ids=["age", "keep-latest-reaches-old-ones", "count-and-age", "count-only",
                              "keep-none"])
def test_reading_only_the_candidates_deletes_what_reading_everything_would(
        kb: KnowledgeBase, max_age_s: float, max_count: int, keep_latest: int) -> None:
    for i in range(24):  # three systems, eight decisions each, 5 s apart
        store_message(kb, Decision(event_time=at(i * 5), system=f"s{i % 3}", strategy="arca",
                                   target_servants=i, reason="r", rule="floor"))
    kb.flush()
    rule = KindRetention(max_age_s=max_age_s, max_count=max_count, keep_latest=keep_latest)
    rows, newer = candidates(kb, "decision", rule, at(120))
    assert len(rows) < 24 or max_count < 8
    assert expired(rows, rule, at(120), newer) == expired(stored(kb, "decision"), rule, at(120))


def test_compact_all_keeps_what_status_reads(kb: KnowledgeBase) -> None:
    for i in range(8):
        store_message(kb, Decision(event_time=at(i), system="emergency", strategy="arca", target_servants=i,
                                   reason="r", rule="floor"))
        store_message(kb, ExternalEvent(event_time=at(i), event_id=f"e-{i}", source="seismo-hq", onset=at(i),
                                        payload_kind="basic", severity=2))
    kb.flush()
    gone = compact_all(kb, RetentionSettings(), at(10 * 86400), sync=True)
    assert gone == {"observation": 0, "event": 7, "situation": 0, "alarm": 0, "decision": 3, "enforcement": 0}
    assert [d.target_servants for d in load_messages(kb, Decision, "emergency", 10)] == [7, 6, 5, 4, 3]
    assert [e.event_id for e in load_messages(kb, ExternalEvent, limit=10)] == ["e-7"]


def test_arca_kb_compact_prints_what_it_deleted_per_kind(oxigraph: Any, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in oxigraph.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARCA_KB__RETENTION__SITUATION__MAX_AGE_S", "60")
    kb = SparqlKnowledgeBase(oxigraph.kb_settings())
    old = datetime.now(UTC) - timedelta(hours=2)
    for s in burst(5):
        store_message(kb, s.model_copy(update={"event_time": old + (s.event_time - T0)}))
    kb.flush()
    assert main(["kb", "compact", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "situation: would delete 4" in out and "event: would delete 0" in out
    assert count(kb, "Situation") == 5
    assert main(["kb", "compact"]) == 0
    out = capsys.readouterr().out
    assert "situation: deleted 4" in out and "decision: deleted 0" in out
    assert count(kb, "Situation") == 1 and count(kb, "Incident") == 5  # the latest carries all five
    kb.close()


def test_each_service_compacts_the_kinds_it_owns_on_its_ticks() -> None:
    from arca.analyzer.service import AnalyzerService
    from arca.decider.service import DeciderService

    kb = EmbeddedKnowledgeBase()
    for s in burst(5):
        store_message(kb, s)
    for i in range(8):
        store_message(kb, Decision(event_time=at(i), system="emergency", strategy="arca", target_servants=i,
                                   reason="r", rule="floor"))
    kb.flush()
    settings = ArcaSettings(kb=KbSettings(retention=RetentionSettings(
        interval_s=600, situation=SituationRetention(max_age_s=60),
        decision=DecisionRetention(max_age_s=60))))
    clock = SimClock(at(100))
    analyzer = AnalyzerService(Deps(InMemoryBus(), kb, clock, settings))
    decider = DeciderService(Deps(InMemoryBus(), kb, clock, settings))
    analyzer.run_tick(at(100))  # the analyzer owns situations, not decisions
    kb.flush()
    assert (count(kb, "Situation"), count(kb, "Decision", "decision")) == (1, 8)
    decider.run_tick(at(100))
    kb.flush()
    assert count(kb, "Decision", "decision") == 5
    for s in burst(3, start=200):
        store_message(kb, s.model_copy(update={"system": "emergency"}))
    kb.flush()
    analyzer.run_tick(at(400))  # not due yet (every 600 s)
    kb.flush()
    assert count(kb, "Situation") == 4
    analyzer.run_tick(at(700))
    kb.flush()
    assert count(kb, "Situation") == 1
    assert triples(kb) > 0


def test_the_enforcer_compacts_enforcements_on_its_ticks(conn: Any) -> None:
    from arca.enforcer.drivers.openstack import OpenStackDriver
    from arca.enforcer.service import EnforcerService
    from arca.messages import Enforcement

    kb = EmbeddedKnowledgeBase()
    for i in range(30):
        store_message(kb, Enforcement(event_time=at(i), system="emergency", action="scale-out",
                                      driver="openstack", outcome="succeeded", desired_servants=1,
                                      active_servants=1, started_at=at(i)))
    store_message(kb, Decision(event_time=at(0), system="emergency", strategy="arca", target_servants=1,
                               reason="r", rule="floor"))
    kb.flush()
    settings = ArcaSettings(kb=KbSettings(retention=RetentionSettings(
        enforcement=EnforcementRetention(max_age_s=60))))
    enforcer = EnforcerService(Deps(InMemoryBus(), kb, SimClock(at(1000)), settings),
                               driver=OpenStackDriver(settings.enforcer, conn))
    enforcer.run_tick(at(1000))
    kb.flush()
    assert count(kb, "Enforcement", "enforcement") == 20  # arca status reads the last 20
    assert count(kb, "Decision", "decision") == 1  # the decider's, not the enforcer's to delete
