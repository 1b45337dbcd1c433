"""``arca status`` of what a live enforcer did: a real ``EnforcerService`` on the real RabbitMQ, its
knowledge base the one ``arca run`` gives it on RabbitMQ + SPARQL (``BrokerBufferedKnowledgeBase``
over a real Oxigraph server: writes go through the broker), the testbed's emulated OpenStack
through the real openstacksdk driver.

Nothing here stores an ``Enforcement``: what ``arca status`` shows of the enforcer (last
enforcement, warm pool, refusals and their reasons) is what the enforcer stored itself, so the test
fails if it stops storing. The story is the one of issue 19: servers created before a policy with a
warm pool and a frequency limit, the pool then filled (the guard counts only what happened since the
policy version that set the limit), and a later scale-out refused by the guard, with its reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from arca.app.cli.main import main
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb.durable import BrokerBufferedKnowledgeBase
from arca.kb.messages import graph_of, load_messages, store_message
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Decision, Enforcement, Message, PolicyUpdated
from arca.namespace import ARCA_NS
from arca.policy import policy_graph
from arca.policy_history import record_version
from arca.service import Deps
from arca.status import collect, render_text
from arca.testbed.model import ACTIVE, ModelParams, Servant
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph, pytest.mark.slow]

START = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM = "emergency"
RECORD_INTERVAL_S = 60.0


def policy(extra: str = "") -> str:
    return f"""@prefix arca: <{ARCA_NS}> .
<{ARCA_NS}policy/{SYSTEM}> a arca:Policy ; arca:system "{SYSTEM}" ; arca:minServants 1 ;
    arca:maxServants 10 ; arca:defaultServants 1 {extra} .
"""


PLAIN = policy()
WARM_LIMITED = policy('; arca:warmPoolState "stopped" ; arca:warmPoolMinSize 2 ; arca:warmPoolMaxSize 2 ; '
                      "arca:warmPoolReuseOnScaleIn false ; arca:guardFrequencyLimit 2 ; "
                      "arca:guardFrequencyWindowSeconds 600")


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class LiveEnforcer:
    """One enforcer process's parts, in this process: its bus, its durable store, its driver."""

    def __init__(self, tb: Testbed, rabbit_url: str, unique: str, oxigraph: Any) -> None:
        self.tb = tb
        self.clock = SimClock(tb.model.now())
        self.kb_settings = KbSettings(kind="sparql", query_url=oxigraph.query_url,
                                      update_url=oxigraph.update_url, store_url=oxigraph.store_url)
        self.settings = ArcaSettings(
            bus=BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                            queue_prefix=f"arca-{unique}.", dead_letter_exchange=f"arca-{unique}.dlx",
                            dead_letter_queue=f"arca-{unique}.dead"),
            kb=self.kb_settings,
            enforcer=EnforcerSettings(boot_timeout_s=60.0, resync_interval_s=2.0,
                                      refusal_record_interval_s=RECORD_INTERVAL_S),
        )
        self.conn = tb.connect()
        self.admin = SparqlKnowledgeBase(self.kb_settings)  # arca policy apply's and the decider's
        self.seen: list[Message] = []
        self.decider = RabbitBus(self.settings.bus, service="decider")
        self.decider.subscribe(f"arca-{unique}.watch", ["enforcement.#"], self.seen.append)
        self.decider.start()
        self.bus = RabbitBus(self.settings.bus, service="enforcer")
        self.kb = BrokerBufferedKnowledgeBase(SparqlKnowledgeBase(self.kb_settings), self.bus,
                                              self.settings.bus, "enforcer")  # as arca.app.runtime wires it
        self.service = EnforcerService(Deps(self.bus, self.kb, self.clock, self.settings),
                                       driver=OpenStackDriver(self.settings.enforcer, self.conn))
        self.service.attach()
        self.bus.start()

    def apply(self, turtle: str) -> int:
        """What ``arca policy apply`` does (graph replaced, version recorded, ``PolicyUpdated``), at the
        simulated time the enforcer's clock shows."""
        now = self.clock.now()
        self.admin.replace_graph(turtle, policy_graph(SYSTEM))
        v = record_version(self.admin, SYSTEM, turtle, by="test", at=now)
        self.decider.publish(PolicyUpdated(event_time=now, producer="arca-cli", system=SYSTEM,
                                           policy=f"{ARCA_NS}policy/{SYSTEM}"))
        self.decider.flush()
        return v.version

    def decide(self, target: int, standby: int | None = None) -> Decision:
        """A decision as the decider makes it: stored, then published."""
        d = Decision(event_time=self.clock.now(), system=SYSTEM, strategy="test", target_servants=target,
                     reason=f"test asks {target}", rule="test", standby_servants=standby)
        store_message(self.admin, d, sync=True)
        self.decider.publish(d)
        self.decider.flush()
        return d

    def run_until(self, what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Advance the cloud and the enforcer's clock one simulated second per step until ``check``."""
        def step() -> bool:
            self.tb.model.advance(1.0)
            now = self.tb.model.now()
            self.clock.set(now)
            self.bus.call_soon_threadsafe(lambda: self.service.tick(now))  # each tick its own second
            time.sleep(0.05)
            return check()

        wait_for(what, step, timeout_s)

    def enforcements(self) -> list[Enforcement]:
        return [m for m in self.seen if isinstance(m, Enforcement)]

    def close(self) -> None:
        self.bus.stop()
        self.kb.close()
        self.decider.stop()
        self.admin.close()
        self.conn.close()


@pytest.fixture
def live(rabbit_url: str, unique: str, oxigraph: Any) -> Iterator[LiveEnforcer]:
    tb = Testbed(parse_timeline({"duration_s": 3600, "seed": 2, "incidents": [], "failures": []}),
                 ModelParams(require_pool_membership=True), clock=SimClock(START)).start()
    enforcer = LiveEnforcer(tb, rabbit_url, unique, oxigraph)
    try:
        yield enforcer
    finally:
        enforcer.close()
        tb.stop()


def in_service(tb: Testbed) -> list[Servant]:
    return [s for s in tb.model.live_servants() if s.status == ACTIVE and s.pools and s.task_state is None]


def standing_by(tb: Testbed) -> list[Servant]:
    return [s for s in tb.model.live_servants() if s.status == "SHUTOFF"]


def status(oxigraph: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           now: datetime) -> dict[str, Any]:
    """``arca status --once --json`` against the store, as an operator runs it."""
    monkeypatch.setenv("ARCA_KB__KIND", "sparql")
    monkeypatch.setenv("ARCA_KB__QUERY_URL", oxigraph.query_url)
    monkeypatch.setenv("ARCA_KB__UPDATE_URL", oxigraph.update_url)
    monkeypatch.setenv("ARCA_KB__STORE_URL", oxigraph.store_url)
    capsys.readouterr()
    assert main(["status", "--once", "--json", "--now", now.isoformat()]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    (system,) = doc["systems"]
    assert system["system"] == SYSTEM
    return system


def stored_ids(live: LiveEnforcer) -> set[str]:
    rows = live.admin.query("SELECT ?m WHERE { GRAPH $g { ?m a arca:Enforcement } }",
                            g=graph_of("enforcement"))
    return {str(r["m"]).removeprefix("urn:uuid:") for r in rows}


def test_status_shows_what_the_live_enforcer_did_pool_and_refusals(
        live: LiveEnforcer, oxigraph: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tb = live.tb
    assert live.apply(PLAIN) == 1
    creates = 4 - len(tb.model.live_servants())  # the scenario starts with servants of its own
    live.decide(4)

    def created() -> bool:
        reported = [e for e in live.enforcements()
                    if e.action == "create_servant" and e.outcome == "succeeded"]
        return len(in_service(tb)) == 4 and len(reported) == creates

    live.run_until("4 servants in service, every create reported", created)
    live.kb.flush()
    doc = status(oxigraph, monkeypatch, capsys, live.clock.now())
    assert doc["last_enforcement"] is not None, "the enforcer stored none of its enforcements"
    assert doc["last_enforcement"]["action"] == "create_servant"
    assert doc["last_enforcement"]["outcome"] == "succeeded"
    assert doc["last_enforcement"]["desired_servants"] == 4
    assert doc["last_enforcement"]["active_servants"] == 4
    assert doc["recent_refusals"] == []

    # a warm pool and a limit of 2 scale-outs per 10 minutes, applied after those 4 creations: the
    # pool fills (the 4 creations happened before the version that set the limit, they do not count)
    assert live.apply(WARM_LIMITED) == 2
    applied_at = live.clock.now()

    def pool_filled() -> bool:
        refused = [e.detail for e in live.enforcements() if e.outcome == "skipped"]
        assert not refused, f"the pool's refills were refused: {refused}"
        return len(standing_by(tb)) == 2

    live.run_until("the warm pool of 2 filled", pool_filled)
    live.run_until("the refills reported", lambda: sum(
        1 for e in live.enforcements() if e.action == "refill_pool" and e.outcome == "succeeded") == 2)
    live.kb.flush()
    doc = status(oxigraph, monkeypatch, capsys, live.clock.now())
    assert doc["servants"]["standby"] == 2
    assert doc["last_enforcement"]["action"] == "refill_pool"
    assert doc["recent_refusals"] == []

    # more servants wanted: the pool's 2 resumes and the 2 refills behind them are scale-outs, and 2
    # were done since version 2: all four refused
    live.decide(6, standby=2)
    live.run_until("the resumes and refills refused", lambda: sum(
        1 for e in live.enforcements() if e.outcome == "skipped") == 4)
    assert len(in_service(tb)) == 4 and len(standing_by(tb)) == 2  # nothing done
    live.kb.flush()
    doc = status(oxigraph, monkeypatch, capsys, live.clock.now())
    refusals = doc["recent_refusals"]
    assert sorted(r["action"] for r in refusals) == ["refill_pool"] * 2 + ["resume_servant"] * 2
    since = f"since policy version 2 ({applied_at.isoformat(timespec='seconds')})"
    for r in refusals:
        assert r["detail"].startswith("refused by guard frequency: scale-out refused: 2 already in the "
                                      f"last 600s {since} (limit 2)"), r["detail"]
    assert doc["last_enforcement"]["outcome"] == "skipped"
    assert doc["servants"]["standby"] == 2
    text = render_text(collect(live.admin, now=live.clock.now()))  # the terminal view: reasons in full
    assert "warm pool: standing by 2 (pool asked 2)" in text
    assert text.count("refused at ") == 4
    reason = f"scale-out refused: 2 already in the last 600s {since} (limit 2)"
    assert " ".join(text.split()).count(reason) == 4

    # the decider republishes: the refusals are published again, not stored again before a minute...
    live.decide(6, standby=2)
    live.run_until("the repeats published", lambda: sum(
        1 for e in live.enforcements() if e.outcome == "skipped") == 8)
    live.kb.flush()
    published = live.enforcements()
    stored = stored_ids(live)
    assert stored == {e.message_id for e in published[:-4]}  # every one but the four repeats
    # ... and after it, stored again saying how many were left out
    live.run_until("a minute later", lambda: live.clock.now() > applied_at + timedelta(seconds=90))
    live.decide(6, standby=2)
    live.run_until("the third refusals published", lambda: sum(
        1 for e in live.enforcements() if e.outcome == "skipped") == 12)
    live.kb.flush()
    doc = status(oxigraph, monkeypatch, capsys, live.clock.now())
    assert len(stored_ids(live)) == len(stored) + 4
    latest = doc["recent_refusals"][:4]
    assert all("[1 more like it since" in r["detail"] for r in latest), latest
    stored_enforcements = load_messages(live.admin, Enforcement, SYSTEM, 100)
    assert {e.message_id for e in stored_enforcements} == stored_ids(live)
    # the store's growth: one record per action or refusal stored, 15-17 triples each
    (row,) = live.admin.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH $g { ?s ?p ?o } }",
                              g=graph_of("enforcement"))
    per_record = int(row["n"]) / len(stored_enforcements)
    print(f"{len(live.enforcements())} enforcements published, {len(stored_enforcements)} stored, "
          f"{int(row['n'])} triples ({per_record:.1f} per record)")
    assert 15 <= per_record <= 17
