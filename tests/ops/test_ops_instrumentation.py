"""Generic instrumentation: every delivery and publish of a service is counted, timed and logged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from prometheus_client import REGISTRY

from arca.app.settings import ArcaSettings, OpsSettings
from arca.bus import InMemoryBus, Reject
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase
from arca.logs import setup_logging
from arca.messages import Decision, Message, Observation, Situation
from arca.service import Deps, Service

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Relay(Service):
    """Turns each situation into a decision; refuses situations of system 'bad'."""

    name: ClassVar[str] = "relaytest"
    patterns: ClassVar[list[str]] = ["situation.*"]

    def handle(self, message: Message) -> None:
        assert isinstance(message, Situation)
        if message.system == "bad":
            raise Reject("system 'bad' is not controlled")
        self.bus.publish(Decision(event_time=message.event_time, correlation_id=message.correlation_id,
                                  system=message.system, strategy="test", target_servants=3, msa=2,
                                  reason="because", rule="test-rule", learned_samples=7))


class Source(Service):
    """Publishes only (plays the analyzer)."""

    name: ClassVar[str] = "sourcetest"
    patterns: ClassVar[list[str]] = []

    def handle(self, message: Message) -> None:  # pragma: no cover - never attached
        raise AssertionError(message)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(OpsSettings(log_level="DEBUG"), service="testproc", stream=stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def make_relay() -> tuple[InMemoryBus, Relay]:
    bus = InMemoryBus()
    relay = Relay(Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=SimClock(T0), settings=ArcaSettings()))
    relay.attach()
    return bus, relay


def situation(system: str, **kw: object) -> Situation:
    return Situation(event_time=T0, system=system, servants_active=2, servants_booting=1,
                     average_load=0.75, discard_ratio=0.02, incident_severity=3, **kw)  # type: ignore[arg-type]


def test_delivery_and_publish_are_counted_and_gauges_follow_messages() -> None:
    bus, _ = make_relay()
    received = sample("arca_messages_received_total", service="relaytest", kind="situation")
    published = sample("arca_messages_published_total", service="relaytest", kind="decision")
    timed = sample("arca_handler_duration_seconds_count", service="relaytest", kind="situation")
    source = Source(Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=SimClock(T0), settings=ArcaSettings()))
    source.bus.publish(situation("instr-a"))  # as the analyzer does

    assert sample("arca_messages_received_total", service="relaytest", kind="situation") == received + 1
    assert sample("arca_messages_published_total", service="relaytest", kind="decision") == published + 1
    assert sample("arca_handler_duration_seconds_count", service="relaytest",
                  kind="situation") == timed + 1
    assert sample("arca_messages_published_total", service="sourcetest", kind="situation") >= 1
    assert sample("arca_servants_active", system="instr-a") == 2
    assert sample("arca_servants_booting", system="instr-a") == 1
    assert sample("arca_average_load_ratio", system="instr-a") == 0.75
    assert sample("arca_discard_ratio", system="instr-a") == 0.02
    assert sample("arca_incident_severity", system="instr-a") == 3
    assert sample("arca_servants_desired", system="instr-a") == 3
    assert sample("arca_msa_servants", system="instr-a") == 2
    assert sample("arca_learned_samples", system="instr-a") == 7


def test_demand_sums_request_rate_over_load_balancers() -> None:
    _, relay = make_relay()
    for lb, rate in (("lb-2", 10.0), ("lb-3", 20.0), ("lb-2", 15.0)):
        relay.bus.publish(Observation(event_time=T0, system="instr-d", metric="request_rate",
                                      value=rate, resource=lb, domain="building-2"))
    assert sample("arca_demand_requests_per_second", system="instr-d") == 35.0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not rdf", "syntax"),
        (None, "rejected"),
    ],
    ids=["undecodable-payload", "handler-rejects"],
)
def test_dead_letters_are_counted_by_reason_class(body: bytes | None, reason: str) -> None:
    bus, _ = make_relay()
    before = sample("arca_messages_rejected_total", service="relaytest", reason=reason)
    if body is None:
        bus.publish(situation("bad"))
    else:
        bus.publish_raw("situation.x", body)
    assert sample("arca_messages_rejected_total", service="relaytest", reason=reason) == before + 1
    assert len(bus.dead_letters()) == 1


def test_each_delivery_and_publish_logs_a_json_line_with_the_correlation_id(logs: io.StringIO) -> None:
    bus, _ = make_relay()
    sit = situation("instr-l")
    bus.publish(sit)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    mine = [d for d in lines if d["correlation_id"] == sit.correlation_id]
    handled = [d for d in mine if d["msg"].startswith("handled situation")]
    published = [d for d in mine if d["msg"].startswith("published decision")]
    assert len(handled) == 1 and len(published) == 1
    assert handled[0]["service"] == "relaytest" and published[0]["service"] == "relaytest"
    assert handled[0]["level"] == "INFO" and handled[0]["outcome"] == "ok"
    assert handled[0]["message_id"] == sit.message_id
    assert isinstance(handled[0]["duration_ms"], float)
    for d in lines:
        assert {"ts", "level", "service", "logger", "msg", "correlation_id"} <= d.keys()


def test_a_rejected_delivery_logs_a_warning_with_the_reason(logs: io.StringIO) -> None:
    bus, _ = make_relay()
    sit = situation("bad")
    bus.publish(sit)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    handled = [d for d in lines
               if d["msg"].startswith("handled") and d["correlation_id"] == sit.correlation_id]
    assert len(handled) == 1
    assert handled[0]["level"] == "WARNING"
    assert "system 'bad' is not controlled" in handled[0]["outcome"]


@pytest.mark.parametrize(
    ("trigger", "observed"),
    [("event", 1), ("telemetry", 0)],
    ids=["event-situation-observed", "telemetry-situation-not"],
)
def test_event_to_decision_is_timed_on_the_service_clock(trigger: str, observed: int) -> None:
    bus = InMemoryBus()
    clock = SimClock(T0 + timedelta(seconds=0.25))  # the decider runs 250 ms after the event
    relay = Relay(Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=clock, settings=ArcaSettings()))
    relay.attach()
    count = sample("arca_event_to_decision_seconds_count")
    total = sample("arca_event_to_decision_seconds_sum")
    bus.publish(situation("instr-e", trigger=trigger))  # event_time T0, as the analyzer sets it
    assert sample("arca_event_to_decision_seconds_count") == count + observed
    assert sample("arca_event_to_decision_seconds_sum") == pytest.approx(total + 0.25 * observed)


def test_demand_in_servant_equivalents_follows_the_situation() -> None:
    _, relay = make_relay()
    relay.bus.publish(situation("instr-s", demand_servants=3.5))
    assert sample("arca_demand_servants", system="instr-s") == 3.5


class Crash(Service):
    """A handler with a bug."""

    name: ClassVar[str] = "crashtest"
    patterns: ClassVar[list[str]] = ["situation.*"]

    def handle(self, message: Message) -> None:
        raise RuntimeError("boom")


def test_a_failing_handler_logs_warnings_and_is_dead_lettered_as_handler_error(logs: io.StringIO) -> None:
    bus = InMemoryBus(max_attempts=2)
    Crash(Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=SimClock(T0), settings=ArcaSettings())).attach()
    before = sample("arca_messages_rejected_total", service="crashtest", reason="handler_error")
    sit = situation("instr-c")
    bus.publish(sit)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    handled = [d for d in lines
               if d["msg"].startswith("handled") and d["correlation_id"] == sit.correlation_id]
    assert [d["level"] for d in handled] == ["WARNING", "WARNING"]  # one per attempt
    assert all(d["outcome"] == "error" and d["service"] == "crashtest" for d in handled)
    assert sample("arca_messages_rejected_total", service="crashtest", reason="handler_error") == before + 1
