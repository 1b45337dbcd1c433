"""Issue 24 item 1, a flood never hides a real event: the collector applies each source's rate limit
(``arca:SourceTrust``, the shipped ``*`` node: 10 events per 60 s) at the door, answering 429 with
``Retry-After`` before anything is published, so a flood costs the loop nothing downstream; the
analyzer keeps the exact check. On main before this change the collector published every event of a
flood and the analyzer refused them one by one (5,000 took it 2.1 s while a genuine event waited):
the 429 tests fail there, and the end-to-end one misses its second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.errors import IngestError
from arca.collector.events import build_notification, build_payload
from arca.collector.http import EVENT_PATH
from arca.collector.ingest import Ingestor, Unconfirmed
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, ExternalEvent, Message, Observation, TopologyChange
from arca.metrics import MESSAGES_REJECTED
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from arca.trust import ANY_SOURCE, SourceTrust
from tests.conftest import free_port

SHIPPED = ONTOLOGY_DIR / "policies" / "source-trust.ttl"
T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)
TOKENS = {"seismo-flood": "flood-token", "seismo-hq": "hq-token"}


def notification(source: str, event_id: str, at: datetime, severity: int = 4,
                 domain: str = "building-2") -> dict[str, Any]:
    return build_notification(event_id=event_id, source=source, timestamp=at, context=domain, event_time=at,
                              payload=build_payload("bigdata", severity=severity, description="test"))


def ingestor(limit: int | None = 3, window_s: float = 60.0, sent: list[Message] | None = None,
             publish: Callable[[Message], Any] | None = None) -> Ingestor:
    out = sent if sent is not None else []
    ing = Ingestor(CollectorSettings(allow_unauthenticated=True), publish or out.append, now=lambda: T0)
    ing.trusts = {ANY_SOURCE: SourceTrust(ANY_SOURCE, event_limit=limit, window_s=window_s)}
    return ing


# -- the rule at the door ---------------------------------------------------------------------------
CASES = [
    # id, limit, window, events (source, seconds after T0), expected outcome per event
    ("under-the-limit-all-pass", 3, 60.0, [("a", 0), ("a", 1), ("a", 2)], ["ok", "ok", "ok"]),
    ("the-one-over-is-refused", 3, 60.0, [("a", 0), ("a", 1), ("a", 2), ("a", 3)], ["ok", "ok", "ok", 429]),
    ("per-source", 1, 60.0, [("a", 0), ("b", 1), ("a", 2), ("b", 3)], ["ok", "ok", 429, 429]),
    ("the-window-slides", 2, 10.0, [("a", 0), ("a", 1), ("a", 5), ("a", 10.5), ("a", 11.5)],
     ["ok", "ok", 429, "ok", "ok"]),
    ("refused-ones-do-not-count", 1, 10.0, [("a", 0), ("a", 5), ("a", 9), ("a", 10.5)],
     ["ok", 429, 429, "ok"]),
    ("no-limit-no-refusal", None, 60.0, [("a", i) for i in range(6)], ["ok"] * 6),
]


@pytest.mark.parametrize(("limit", "window", "events", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_the_door_applies_the_analyzers_rule(limit: int | None, window: float,
                                             events: list[tuple[str, float]], expected: list[Any]) -> None:
    sent: list[Message] = []
    ing = ingestor(limit, window, sent)
    got: list[Any] = []
    for i, (source, s) in enumerate(events):
        at = T0 + timedelta(seconds=s - 30)  # within the collector's sane-date window of T0
        try:
            ing.detector_event(notification(source, f"e{i}", at))
            got.append("ok")
        except IngestError as exc:
            got.append(exc.status)
            assert exc.reason == "rate_limited" and exc.path.endswith("/source")
            assert f"source {source!r} is over its rate limit" in exc.detail
            assert f"(limit {limit})" in exc.detail
            assert exc.retry_after_s == max(1, round(window))
    assert got == expected
    assert len(sent) == expected.count("ok")  # nothing refused was published


def test_a_duplicate_is_absorbed_not_counted_against_the_limit() -> None:
    ing = ingestor(limit=1)
    ing.detector_event(notification("a", "e1", T0 - timedelta(seconds=5)))
    assert ing.detector_event(notification("a", "e1", T0 - timedelta(seconds=5))).status == "duplicate"
    with pytest.raises(IngestError):
        ing.detector_event(notification("a", "e2", T0 - timedelta(seconds=4)))


def test_an_unconfirmed_event_is_not_counted_against_its_source() -> None:
    failing = {"on": True}

    def confirm(_tickets: list[Any]) -> None:
        if failing["on"]:
            raise TimeoutError("no confirm")

    ing = Ingestor(CollectorSettings(allow_unauthenticated=True), lambda m: m, confirm=confirm,
                   now=lambda: T0)
    ing.trusts = {ANY_SOURCE: SourceTrust(ANY_SOURCE, event_limit=1)}
    with pytest.raises(Unconfirmed):
        ing.detector_event(notification("a", "e1", T0 - timedelta(seconds=5)), confirm=True)
    failing["on"] = False  # the sender's retry is admitted: the failed one took no place in the window
    retry = ing.detector_event(notification("a", "e1", T0 - timedelta(seconds=5)), confirm=True)
    assert retry.status == "accepted"


# -- over HTTP, with the shipped trust --------------------------------------------------------------
@pytest.fixture
def collector() -> Iterator[CollectorService]:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    kb.load_turtle(SHIPPED.read_bytes())
    settings = ArcaSettings(collector=CollectorSettings(http_port=free_port(), tokens=TOKENS))
    service = CollectorService(Deps(bus=InMemoryBus(), kb=kb, clock=SimClock(T0), settings=settings))
    service.attach()
    yield service
    service.close()


def post(service: CollectorService, doc: dict[str, Any], token: str,
         session: requests.Session | None = None) -> requests.Response:
    assert service.http is not None
    return (session or requests).post(service.http.url + EVENT_PATH, data=json.dumps(doc), timeout=10,
                                      headers={"Content-Type": "application/yang-data+json",
                                               "Authorization": f"Bearer {token}"})


def test_the_eleventh_event_of_a_minute_is_answered_429_with_retry_after(collector: CollectorService) -> None:
    before = MESSAGES_REJECTED.labels(service="collector", reason="event:rate_limited")._value.get()
    answers = [post(collector, notification("seismo-flood", f"f{i}", T0 - timedelta(seconds=30 - i)),
                    TOKENS["seismo-flood"]) for i in range(12)]
    assert [r.status_code for r in answers] == [202] * 10 + [429] * 2  # the shipped "*": 10 per 60 s
    refused = answers[10]
    assert refused.headers["Retry-After"] == "60"
    error = refused.json()["ietf-restconf:errors"]["error"][0]
    assert error["error-tag"] == "resource-denied" and error["error-app-tag"] == "rate_limited"
    assert error["error-path"].endswith("event/source")
    assert "'seismo-flood' is over its rate limit: 10 events accepted in the last 60 s" \
        in error["error-message"]
    after = MESSAGES_REJECTED.labels(service="collector", reason="event:rate_limited")._value.get()
    assert after - before == 2
    # another source is not held by the flood
    assert post(collector, notification("seismo-hq", "g1", T0 - timedelta(seconds=1), severity=2),
                TOKENS["seismo-hq"]).status_code == 202


# -- end to end on the real broker ------------------------------------------------------------------
FLOOD = 5000
POLICY = """@prefix arca: <https://w3id.org/arca/ns#> .
<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;
    arca:minServants 1 ; arca:maxServants 6 ; arca:defaultServants 1 ; arca:expirationSeconds 45 ;
    arca:listensToDomain "building-2" .
"""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_a_genuine_event_is_decided_within_a_second_while_a_source_floods_5000(
        rabbit_url: str, unique: str, oxigraph: Any) -> None:
    from arca.analyzer.service import AnalyzerService
    from arca.bus.rabbitmq import RabbitBus
    from arca.decider.service import DeciderService
    from arca.kb.sparql import SparqlKnowledgeBase
    from arca.kb.terms import arca_iri
    from arca.policy import policy_graph

    bus_s = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                        dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                        queue_prefix=f"t-{unique}.", confirm_timeout_s=30.0)
    kb_s = KbSettings(kind="sparql", query_url=oxigraph.query_url, update_url=oxigraph.update_url,
                      store_url=oxigraph.store_url, write_flush_interval_s=0.05)
    settings = ArcaSettings(bus=bus_s, kb=kb_s, collector=CollectorSettings(
        http_port=free_port(), tokens=TOKENS, system="emergency"))
    admin = SparqlKnowledgeBase(kb_s)
    admin.replace_graph(POLICY, policy_graph("emergency"))
    admin.replace_graph(SHIPPED.read_bytes(), arca_iri("graph/trust", ANY_SOURCE))  # as arca policy apply
    admin.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    clock = SimClock(T0)
    todo: list[Callable[[], None]] = [admin.close]

    def deps(name: str) -> Deps:
        bus = RabbitBus(bus_s, service=name)
        kb = SparqlKnowledgeBase(kb_s)
        todo.extend([kb.close, bus.stop])
        return Deps(bus, kb, clock, settings)

    try:
        collector = CollectorService(deps("collector"))
        analyzer = AnalyzerService(deps("analyzer"))
        decider = DeciderService(deps("decider"))
        todo.append(collector.close)
        watch = RabbitBus(bus_s, service="watch")
        todo.append(watch.stop)
        decided: dict[str, float] = {}

        def keep(m: Message) -> None:
            if isinstance(m, Decision):
                decided.setdefault(m.correlation_id, time.monotonic())

        watch.subscribe(f"{bus_s.queue_prefix}watch", ["decision.#"], keep)
        for service in (collector, analyzer, decider):
            service.attach()
            service.bus.start()
        watch.start()
        watch.publish(TopologyChange(event_time=T0, system="emergency", server_id="srv-1", state="active"))
        watch.publish(Observation(event_time=T0, system="emergency", metric="cpu_util", value=0.3,
                                  resource="srv-1"))
        watch.flush()
        wait_for(lambda: analyzer.views.get("emergency") is not None, 30, "the analyzer's view")

        clock.set(T0 + timedelta(seconds=20))
        codes: dict[int, int] = {}
        flood_at = T0 + timedelta(seconds=19)
        with requests.Session() as session:
            started = time.monotonic()
            for i in range(FLOOD):
                at = flood_at + timedelta(milliseconds=i / 10)
                r = post(collector, notification("seismo-flood", f"flood-{i}", at), TOKENS["seismo-flood"],
                         session)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
            flood_s = time.monotonic() - started
            sent = time.monotonic()
            genuine = notification("seismo-hq", "genuine", T0 + timedelta(seconds=19.9), severity=2)
            r = post(collector, genuine, TOKENS["seismo-hq"], session)
        assert r.status_code == 202, r.text
        message_id = r.json()["messages"][0]

        def genuine_decided() -> bool:
            event = stored_event(admin, message_id)
            return event is not None and event.correlation_id in decided

        wait_for(genuine_decided, 30, "the genuine event's decision")
        event = stored_event(admin, message_id)
        assert event is not None
        wait_s = decided[event.correlation_id] - sent
        print(f"\nflood of {FLOOD} posted in {flood_s:.1f} s ({codes}); genuine event decided {wait_s:.3f} s "
              f"after it was posted")
        assert codes == {202: 10, 429: FLOOD - 10}
        assert wait_s < 1.0
        # nothing of the flood beyond the limit reached the analyzer: it refused none
        assert not [d for d in watch.dead_letters() if "refused by its rate limit" in d.reason]
    finally:
        for fn in reversed(todo):
            fn()


def stored_event(kb: Any, message_id: str) -> ExternalEvent | None:
    """The event as the analyzer stored it (its correlation id is its decision's)."""
    from arca.kb.messages import load_messages

    time.sleep(0.02)
    return next((e for e in load_messages(kb, ExternalEvent, limit=20) if e.message_id == message_id), None)


def test_arca_event_send_says_the_limit_and_when_to_retry(capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle(SHIPPED.read_bytes())
    settings = ArcaSettings(collector=CollectorSettings(http_port=free_port(), tokens=TOKENS))
    service = CollectorService(Deps(bus=InMemoryBus(), kb=kb, clock=SimClock(datetime.now(UTC)),
                                    settings=settings))
    service.attach()
    try:
        assert service.http is not None
        send = ["event", "send", "--source", "seismo-flood", "--severity", "3", "--location", "hq",
                "--token", TOKENS["seismo-flood"], "--url", service.http.url]
        assert [main(send) for _ in range(10)] == [0] * 10
        capsys.readouterr()
        assert main(send) == 1
        err = capsys.readouterr().err
        assert err.startswith("arca: collector refused the event (429): ")
        assert "'seismo-flood' is over its rate limit" in err and err.rstrip().endswith("(retry after 60 s)")
    finally:
        service.close()
