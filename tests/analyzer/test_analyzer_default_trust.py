"""Issue 25 item 5, a default rate limit per source: the shipped ``"*"`` source trust
(``ontology/policies/source-trust.ttl``), how ``*`` is resolved against a source's own node, the
limit measured on the shipped timelines, and the analyzer bounding a flood with nothing else applied.

On main (before this change) the shipped file does not exist and a source's own node without a limit
lifts the ``*`` limit: ``test_resolution`` (own-node-without-limit-keeps-the-default) and every test
reading the shipped file fail there.
"""

from __future__ import annotations

import glob
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.validation import validate_admin_file
from arca.kb import EmbeddedKnowledgeBase
from arca.kb.terms import arca_iri
from arca.messages import ExternalEvent, Situation
from arca.namespace import ONTOLOGY_DIR
from arca.policy import policy_graph
from arca.service import Deps
from arca.testbed.timeline import load_timeline
from arca.trust import ANY_SOURCE, SourceTrust, load_credibility, trust_for, trusts_from_graph

SHIPPED = ONTOLOGY_DIR / "policies" / "source-trust.ttl"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def shipped() -> SourceTrust:
    import rdflib

    return trusts_from_graph(rdflib.Graph().parse(SHIPPED))[ANY_SOURCE]


STAR = SourceTrust(ANY_SOURCE, event_limit=10, window_s=60.0, learn=False)
RESOLUTION = [
    # id, trust nodes, source, expected (limit, window, learn) or None
    ("no-node-nothing-limited", [], "s", None),
    ("star-covers-a-source-without-its-own", [STAR], "s", (10, 60.0, False)),
    ("own-limit-wins", [STAR, SourceTrust("s", event_limit=50, window_s=10.0)], "s", (50, 10.0, True)),
    ("own-node-without-limit-keeps-the-default", [STAR, SourceTrust("s", penalty=0.2)], "s",
     (10, 60.0, True)),
    ("own-node-alone", [SourceTrust("s", event_limit=3)], "s", (3, 60.0, True)),
    ("star-without-limit-limits-nothing", [SourceTrust(ANY_SOURCE), SourceTrust("s")], "s",
     (None, 60.0, True)),
    ("another-source-gets-the-star", [STAR, SourceTrust("s", event_limit=50)], "t", (10, 60.0, False)),
]


@pytest.mark.parametrize(("nodes", "source", "expected"), [c[1:] for c in RESOLUTION],
                         ids=[c[0] for c in RESOLUTION])
def test_resolution(nodes: list[SourceTrust], source: str,
                    expected: tuple[int | None, float, bool] | None) -> None:
    got = trust_for({t.source: t for t in nodes}, source)
    assert (None if got is None else (got.event_limit, got.window_s, got.learn)) == expected


def busiest_source(window_s: float) -> tuple[int, str]:
    """The most events one genuine source sends within ``window_s`` in any shipped timeline (detector
    delay 1 s; a seismometer per domain and the big-data analyser seeing every incident)."""
    best = (0, "")
    import arca.testbed

    paths = sorted(glob.glob(str(Path(arca.testbed.__file__).parent / "timelines" / "*.json")))
    assert len(paths) >= 10
    for path in paths:
        notes = load_timeline(path).notifications(1.0)
        for kind in ("seismometer", "bigdata"):
            times: dict[str, list[float]] = {}
            for n in notes:
                source = f"seismometer-{n.domain}" if kind == "seismometer" else "bigdata-analyser"
                times.setdefault(source, []).append(n.at_s)
            for source, ts in times.items():
                for a in ts:
                    best = max(best, (sum(1 for b in ts if a <= b < a + window_s), f"{path}: {source}"))
    return best


def test_the_shipped_limit_is_measured_on_the_shipped_timelines_with_margin() -> None:
    trust = shipped()
    assert (trust.event_limit, trust.window_s, trust.learn) == (10, 60.0, False)
    busiest, where = busiest_source(trust.window_s)
    assert busiest == 3, where  # overlap-chain's big-data analyser; the reference scenario sends 1
    assert trust.event_limit is not None and trust.event_limit >= 3 * busiest


def test_the_shipped_file_is_a_valid_admin_file() -> None:
    valid = validate_admin_file(SHIPPED.read_bytes(), str(SHIPPED))
    assert "source trust" in " ".join(valid.kinds)


def test_with_only_the_shipped_defaults_a_flood_is_bounded_and_another_source_still_heard() -> None:
    bus, kb = InMemoryBus(), EmbeddedKnowledgeBase()
    kb.replace_graph(HEAD + '<urn:p> a arca:Policy ; arca:system "emergency" .', policy_graph("emergency"))
    kb.replace_graph(SHIPPED.read_bytes(), arca_iri("graph/trust", ANY_SOURCE))
    analyzer = AnalyzerService(Deps(bus, kb, SimClock(T0), ArcaSettings()))
    analyzer.attach()
    out: list[Situation] = []
    bus.subscribe("test.out", ["situation.#"], lambda m: out.append(m))  # type: ignore[arg-type]

    def event(t: float, ident: str, source: str) -> None:
        bus.publish(ExternalEvent(event_time=at(t), event_id=ident, source=source, onset=at(t),
                                  payload_kind="basic", severity=4, domain="building-2"))

    for i in range(2000):
        event(i * 0.001, f"flood-{i}", "seismo-flood")
    event(2.5, "genuine", "seismo-hq")
    events = [s for s in out if s.trigger == "event"]
    assert len(events) == 11 and events[-1].incident_id == "genuine"
    assert len(bus.dead_letters()) == 1990
    assert len(events[-1].incidents) == 11  # the flood's 10 accepted and the genuine one
    analyzer.tick(at(1000))
    creds = load_credibility(kb)
    assert creds["seismo-flood"].refused == 1990 and creds["seismo-flood"].value == 1.0  # nothing learned
