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
from arca.bus import Bus, InMemoryBus
from arca.clock import Clock, SystemClock
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.service import Deps, Service
from arca.settings import ArcaSettings

log = logging.getLogger(__name__)

SERVICES: dict[str, str] = {
    "collector": "collector.service:CollectorService",
    "analyzer": "analyzer.service:AnalyzerService",
    "decider": "decider.service:DeciderService",
    "enforcer": "enforcer.service:EnforcerService",
}
"""Service name -> ``module:class`` (imported lazily)."""


def make_bus(settings: ArcaSettings, service: str | None = None) -> Bus:
    """The configured bus; ``service`` labels its metrics (one service per process)."""
    if settings.bus.kind == "rabbitmq":
        from arca.bus.rabbitmq import RabbitBus

        return RabbitBus(settings.bus, service=service)
    return InMemoryBus(service=service or "arca", queue_prefix=settings.bus.queue_prefix)


def make_kb(settings: ArcaSettings) -> KnowledgeBase:
    if settings.kb.kind == "sparql":
        from arca.kb.sparql import SparqlKnowledgeBase

        return SparqlKnowledgeBase(settings.kb)
    return EmbeddedKnowledgeBase(settings.kb.path)


def make_deps(settings: ArcaSettings, clock: Clock | None = None, service: str | None = None) -> Deps:
    return Deps(bus=make_bus(settings, service), kb=make_kb(settings), clock=clock or SystemClock(),
                settings=settings)


def service_class(name: str) -> type[Service]:
    module, _, attr = SERVICES[name].partition(":")
    cls: Any = getattr(importlib.import_module(module), attr)
    return cls


def run_service(name: str, settings: ArcaSettings, stop: threading.Event | None = None) -> None:
    """Run one service until SIGINT/SIGTERM (or ``stop`` is set), serving /metrics if configured."""
    server = None
    if settings.ops.metrics_port is not None:
        server, port = metrics.serve(settings.ops.metrics_port, settings.ops.metrics_host)
        log.info("service %s: /metrics on %s:%d", name, settings.ops.metrics_host, port,
                 extra={"metrics_port": port})
    metrics.set_service(name)
    try:
        deps = make_deps(settings, service=name)
        service = service_class(name)(deps)
        service.attach()
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        deps.bus.start()
        log.info("service %s started", name)
        try:
            while not stop.wait(service.tick_interval_s):
                deps.bus.call_soon_threadsafe(lambda: service.run_tick(deps.clock.now()))
        finally:
            close = getattr(service, "close", None)  # inputs a service opened itself (HTTP, AMQP)
            if callable(close):
                close()
            deps.bus.stop()
            deps.kb.close()
            log.info("service %s stopped", name)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
