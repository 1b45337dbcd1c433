"""Wiring: build the bus, knowledge base and a service from settings, and run it until signalled.

When ``settings.ops.metrics_port`` is set (``ARCA_OPS__METRICS_PORT``), ``run_service`` serves
Prometheus ``/metrics`` on it for the service's lifetime; each process picks its own port (0 = any
free port, logged), so several services can run side by side on one host.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from typing import Any

from arca import metrics
from arca.app.settings import ArcaSettings
from arca.bus import Bus, InMemoryBus
from arca.clock import Clock, SystemClock
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase, KnowledgeBaseError
from arca.service import Deps, Service, TickGate

log = logging.getLogger(__name__)

SERVICES: dict[str, str] = {
    "collector": "arca.collector.service:CollectorService",
    "analyzer": "arca.analyzer.service:AnalyzerService",
    "decider": "arca.decider.service:DeciderService",
    "enforcer": "arca.enforcer.service:EnforcerService",
}
"""Service name -> ``module:class`` (imported lazily)."""


def make_bus(settings: ArcaSettings, service: str | None = None) -> Bus:
    """The configured bus; ``service`` labels its metrics (one service per process)."""
    if settings.bus.kind == "rabbitmq":
        from arca.bus.rabbitmq import RabbitBus

        return RabbitBus(settings.bus, service=service)
    return InMemoryBus(service=service or "arca", queue_prefix=settings.bus.queue_prefix)


def make_publisher(settings: ArcaSettings) -> Bus:
    """The bus of a command that publishes and consumes nothing (``arca policy apply``...), with the
    whole topology declared as ``arca run`` does: what it publishes before any service has started
    waits in the services' queues instead of coming back unroutable (a dead letter)."""
    bus = make_bus(settings)
    if callable(getattr(bus, "declare", None)):  # RabbitMQ; the in-memory bus has no queues to wait in
        declare_topology(bus, settings)
    return bus


def make_kb(settings: ArcaSettings) -> KnowledgeBase:
    if settings.kb.kind == "sparql":
        from arca.kb.sparql import SparqlKnowledgeBase

        return SparqlKnowledgeBase(settings.kb)
    return EmbeddedKnowledgeBase(settings.kb.path)


def make_deps(settings: ArcaSettings, clock: Clock | None = None, service: str | None = None) -> Deps:
    """Bus, knowledge base and clock from settings.

    On RabbitMQ with a SPARQL store, buffered knowledge-base writes go through the broker
    (``arca.kb.durable``): durable until the store has them, whatever the store's state. The bus
    declares the whole topology (every service's queue and bindings) before its first publish.
    """
    bus = make_bus(settings, service)
    kb = make_kb(settings)
    declare = getattr(bus, "declare", None)
    if callable(declare):
        declare_topology(bus, settings)
    if service is not None and settings.bus.kind == "rabbitmq" and settings.kb.kind == "sparql":
        from arca.kb.durable import BrokerBufferedKnowledgeBase
        from arca.kb.sparql import SparqlKnowledgeBase

        assert isinstance(kb, SparqlKnowledgeBase)
        kb = BrokerBufferedKnowledgeBase(kb, bus, settings.bus, service)
    return Deps(bus=bus, kb=kb, clock=clock or SystemClock(), settings=settings)


TOPOLOGY: dict[str, tuple[str, ...]] = {
    "collector": ("policy.#",),
    "analyzer": ("observation.#", "event.#", "topology.#", "enforcement.#", "alarm.#", "policy.#"),
    "decider": ("situation.#", "policy.#"),
    "enforcer": ("decision.#", "alarm.#", "event.#", "policy.#", "topology.#"),
}
"""Each service's binding patterns (= its class's ``patterns``, checked by a test), so a process
declares the whole topology without importing the other services (OpenStack SDK, scikit-learn…)."""


SHARDING: dict[str, tuple[str, tuple[str, ...]]] = {
    "collector": ("none", ()),
    "analyzer": ("single", ("policy.#",)),
    "decider": ("shards", ("policy.#",)),
    "enforcer": ("shards", ("policy.#", "event.#")),
}
"""Each service's ``sharding`` and ``broadcast`` (= its class's, checked by a test): with
``bus.shards`` > 0 the decider's and enforcer's systems are spread over their replicas; the analyzer
(events are keyed by source and fan out to systems) has one active replica and hot standbys."""


def declare_topology(bus: Bus, settings: ArcaSettings) -> None:
    """Declare every service's queue and bindings on ``bus`` (a ``RabbitBus``), consumed or not."""
    for name, patterns in TOPOLOGY.items():
        queue = f"{settings.bus.queue_prefix}{name}"
        mode, broadcast = SHARDING[name]
        if settings.bus.shards > 0 and mode != "none":
            rest = [p for p in patterns if p not in broadcast]
            bus.declare_sharded(queue, rest, single=mode == "single")  # type: ignore[attr-defined]
        else:
            bus.declare(queue, patterns)  # type: ignore[attr-defined]


def service_class(name: str) -> type[Service]:
    module, _, attr = SERVICES[name].partition(":")
    cls: Any = getattr(importlib.import_module(module), attr)
    return cls


def readiness(deps: Deps | None, service: Service | None) -> dict[str, Any]:
    """What ``/readyz`` reports: ready when the bus is connected, the knowledge base answers and no
    input's mapping matches nothing (the service's ``problems``, named by key)."""
    if deps is None or service is None:
        return {"ready": False, "starting": True}
    bus_ok = bool(getattr(deps.bus, "connected", True))  # the in-memory bus is always there
    store_ok = bool(getattr(deps.kb, "ready", True)) and service.kb_ready
    report: dict[str, Any] = {"ready": bus_ok and store_ok, "service": service.name, "bus": bus_ok,
                              "knowledge_base": store_ok}
    if service.kb_error:
        report["knowledge_base_error"] = service.kb_error
    if service.warnings:
        report["warnings"] = list(service.warnings)
    problems = getattr(service, "problems", None)  # inputs whose mapping matches nothing (collector)
    if problems:
        report["ready"] = False
        report["problems"] = dict(problems)
    writer = getattr(deps.kb, "writer", None)
    if writer is not None:
        report["kb_writer_batches"] = writer.batches
        if writer.last_error:
            report["knowledge_base_error"] = writer.last_error
    return report


def run_service(name: str, settings: ArcaSettings, stop: threading.Event | None = None) -> None:
    """Run one service until SIGINT/SIGTERM (or ``stop`` is set), serving /metrics if configured.

    The service starts whatever the knowledge base's state: while the store is away it runs on the
    knowledge it could load (or the settings' defaults), ``/readyz`` answers 503, writes wait on
    the broker, and it catches up on its ticks when the store returns.
    """
    server = None
    state: dict[str, Any] = {"deps": None, "service": None}
    if settings.ops.metrics_port is not None:
        server, port = metrics.serve(settings.ops.metrics_port, settings.ops.metrics_host,
                                     health=lambda: readiness(state["deps"], state["service"]))
        log.info("service %s: /metrics, /healthz, /readyz on %s:%d", name, settings.ops.metrics_host,
                 port, extra={"metrics_port": port})
    metrics.set_service(name)
    try:
        deps = state["deps"] = make_deps(settings, service=name)
        service = service_class(name)(deps)
        service.attach()
        state["service"] = service
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        deps.bus.start()
        log.info("service %s started", name)
        try:
            ticks = TickGate(service, deps.clock)
            while not stop.wait(service.tick_interval_s):
                ticks.offer(deps.bus.call_soon_threadsafe)
        finally:
            close = getattr(service, "close", None)  # inputs a service opened itself (HTTP, AMQP)
            if callable(close):
                close()
            deps.bus.stop()
            try:
                deps.kb.close()
            except KnowledgeBaseError as exc:  # the store is away: the broker keeps the writes
                log.error("service %s: knowledge base not flushed: %s", name, exc)
            log.info("service %s stopped", name)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
