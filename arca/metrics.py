"""Every Prometheus metric ARCA exports, defined once (prometheus-client, default registry).

Names follow Prometheus conventions: ``arca_`` prefix, base units (seconds, ratios, requests per
second), ``_total`` for counters, low-cardinality labels only (service, message kind, reason class,
system, rule, driver, action, outcome). ``docs/ops.md`` has the table of metrics and who sets them.

Two kinds of updates:

* generic ones, done once for every service: the buses (``arca.bus.memory``, ``arca.bus.rabbitmq``)
  count and time each delivery (``arca_messages_received_total``, ``arca_handler_duration_seconds``),
  count publishes (``arca_messages_published_total``) and dead letters by reason class
  (``arca_messages_rejected_total``); ``arca.service`` calls ``record_published`` for each message
  a service publishes, which derives the per-system gauges from the message itself (a Situation
  carries load, servants, discard ratio, incident; a Decision the desired servants, MSA and learned
  samples; observations of ``request_rate`` the demand);
  ``arca.service`` also times detector event -> decision (a Decision published while handling a
  Situation triggered by an event);
* domain ones, done by the code that knows (decision -> enforcement and incident -> capacity in
  the enforcer, model fit time in the decider, decisions by rule, enforcement actions by driver
  and outcome, the collector's refused inputs).

``serve`` exposes ``/metrics`` over HTTP (``arca.app.runtime`` calls it when ``ARCA_OPS__METRICS_PORT``
is set).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, Info, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from arca.messages import Decision, Enforcement, Message, Observation, Situation

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_REACTION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

# --- messages through the bus (generic: arca.service and the bus implementations) ------------
MESSAGES_RECEIVED = Counter(
    "arca_messages_received_total",
    "Bus messages delivered to a service's handler.",
    ["service", "kind"],
)
MESSAGES_PUBLISHED = Counter(
    "arca_messages_published_total", "Bus messages published by a service.", ["service", "kind"]
)
MESSAGES_SUPERSEDED = Counter(
    "arca_messages_superseded_total",
    "Deliveries acknowledged without being handled: a newer delivery of the same system covered them.",
    ["service", "kind"],
)
TICKS_SKIPPED = Counter(
    "arca_ticks_skipped_total",
    "Ticks not posted because the previous one had not finished (a tick slower than its interval).",
    ["service"],
)
MESSAGES_REJECTED = Counter(
    "arca_messages_rejected_total",
    "Inputs refused or dead-lettered, by reason class "
    "(syntax, unknown_type, invalid, rejected, handler_error).",
    ["service", "reason"],
)
INGEST_AUTH_REFUSED = Counter(
    "arca_ingest_auth_refused_total",
    "Collector inputs refused by the per-source token check, by input (event, cap, osm, "
    "amqp-event) and reason (unauthenticated: 401, forbidden: 403, unmanaged: names what ARCA "
    "does not manage).",
    ["input", "reason"],
)
HANDLER_SECONDS = Histogram(
    "arca_handler_duration_seconds",
    "Time a service spends handling one message.",
    ["service", "kind"],
    buckets=_LATENCY_BUCKETS,
)
SERVICE_INFO = Info("arca_service", "The ARCA service of this process and its version.")

# --- loop reaction times (arca.service: event -> decision; enforcer: the other two) ------------
EVENT_TO_DECISION_SECONDS = Histogram(
    "arca_event_to_decision_seconds",
    "Detector event (its notification time) -> decision published, on the decider's clock "
    "(wall time in production).",
    buckets=_LATENCY_BUCKETS,
)
DECISION_TO_ENFORCEMENT_SECONDS = Histogram(
    "arca_decision_to_enforcement_seconds",
    "Decision published -> enforcement finished (event time).",
    buckets=_REACTION_BUCKETS,
)
INCIDENT_TO_CAPACITY_SECONDS = Histogram(
    "arca_incident_to_capacity_seconds",
    "Incident onset -> first extra servant in service (event time).",
    buckets=_REACTION_BUCKETS,
)

# --- per controlled system (generic from published messages; owners may set them too) ---------
SERVANTS_DESIRED = Gauge("arca_servants_desired", "Servants the decider wants.", ["system"])
SERVANTS_ACTIVE = Gauge("arca_servants_active", "Servants in service.", ["system"])
SERVANTS_BOOTING = Gauge("arca_servants_booting", "Servants being created.", ["system"])
SERVANTS_STANDBY = Gauge("arca_servants_standby",
                         "Servants standing by in the warm pool (SHUTOFF, SUSPENDED, PAUSED, SHELVED).",
                         ["system"])
MSA = Gauge("arca_msa_servants", "Minimum servant amount predicted by the anticipator.", ["system"])
AVERAGE_LOAD = Gauge("arca_average_load_ratio", "Average servant load (0..1).", ["system"])
DISCARD_RATIO = Gauge("arca_discard_ratio", "Share of client requests discarded.", ["system"])
DEMAND = Gauge(
    "arca_demand_requests_per_second",
    "Client requests offered to the system (sum of request_rate over its load balancers).",
    ["system"],
)
DEMAND_SERVANTS = Gauge(
    "arca_demand_servants",
    "Offered load in servant-equivalents at 100 % CPU, as the analyzer estimates it.",
    ["system"],
)
INCIDENT_SEVERITY = Gauge(
    "arca_incident_severity", "Severity of the active incident (0 = none).", ["system"]
)
LEARNED_SAMPLES = Gauge("arca_learned_samples", "Samples in the anticipator model.", ["system"])
DISCARD_OBJECTIVE = Gauge(
    "arca_discard_objective_ratio", "The policy's discard objective (arca:discardObjective).", ["system"]
)
DISCARD_MEASURED = Gauge(
    "arca_discard_measured_ratio",
    "Share of the offered demand discarded so far, as the decider measured it (set with an objective).",
    ["system"],
)

# --- domain counters and timings (decider, enforcer) --------------------------------------------
MODEL_FIT_SECONDS = Histogram(
    "arca_model_fit_seconds", "Time to (re)fit the anticipator SVR.", buckets=_LATENCY_BUCKETS
)
DECISIONS = Counter(
    "arca_decisions_total", "Decisions published, by rule.", ["system", "rule"]
)
ENFORCEMENT_ACTIONS = Counter(
    "arca_enforcement_actions_total",
    "Enforcer actions, by driver, action and outcome.",
    ["driver", "action", "outcome"],
)

GUARD_REFUSALS = Counter(
    "arca_guard_refusals_total",
    "Enforcer steps refused right before acting, by guard (frequency, blackout, protected, policy).",
    ["system", "guard"],
)

VELOCITY_LIMITED = Counter(
    "arca_velocity_limited_total",
    "Decisions whose target the policy's scale velocity limits changed, by direction (up, down).",
    ["system", "direction"],
)

FALLBACK_ACTIVE = Gauge(
    "arca_fallback_active", "1 while the decider holds a system's fallback amount (telemetry missing).",
    ["system"],
)

EVENT_SITUATIONS_COALESCED = Counter(
    "arca_event_situations_coalesced_total",
    "Events whose situation the analyzer left to a later event of the same system already waiting "
    "in its backlog (one situation for the burst, on the latest state; every event is still stored).",
    ["system"],
)
EVENTS_REFUSED = Counter(
    "arca_events_refused_total",
    "External events the analyzer refused (dead-lettered with the reason), by source and reason.",
    ["source", "reason"],
)
SOURCE_CREDIBILITY = Gauge(
    "arca_source_credibility", "Learned credibility (0..1) of an event source (1: fully trusted).",
    ["source"],
)
SOURCE_FALSE_ALARMS = Gauge(
    "arca_source_false_alarms", "Incidents of an event source the load did not confirm (decider's record).",
    ["system", "source"],
)
SOURCE_CONFIRMED = Gauge(
    "arca_source_confirmed_incidents", "Incidents of an event source the load confirmed (decider's record).",
    ["system", "source"],
)
SOURCE_CALIBRATION = Gauge(
    "arca_source_severity_calibration",
    "Severity steps a source's reports are calibrated by (direction up: raised, down: lowered; 0: none).",
    ["system", "source", "direction"],
)

_demand_lock = threading.Lock()
_demand: dict[tuple[str, str], float] = {}


def service_label(queue: str) -> str:
    """The ``service`` label of a queue (``arca.decider`` -> ``decider``): its last dotted word."""
    return queue.rsplit(".", 1)[-1]


@lru_cache(maxsize=4096)
def bus_child(metric: Counter | Histogram, service: str, kind: str) -> Any:
    """``metric.labels(service, kind)`` of a bus counter or histogram, looked up once per label pair
    (the buses count every message: ``labels()`` took a lock and rebuilt the key each time, 4 % of a
    consumer's CPU). Only for the bus metrics, whose children are never removed."""
    return metric.labels(service, kind)


def known(value: float | None) -> float:
    """A gauge value: NaN for an unknown figure."""
    return math.nan if value is None else value


def record_published(message: Message) -> None:
    """Update the per-system gauges a published message carries (the bus counts the message)."""
    if isinstance(message, Situation):
        system = message.system
        SERVANTS_ACTIVE.labels(system).set(message.servants_active)
        SERVANTS_BOOTING.labels(system).set(message.servants_booting)
        # unknown is NaN (Prometheus' "no value"), never 0 nor the last known figure
        AVERAGE_LOAD.labels(system).set(known(message.average_load))
        DISCARD_RATIO.labels(system).set(message.discard_ratio)
        INCIDENT_SEVERITY.labels(system).set(message.incident_severity)
        if message.trigger == "telemetry" or message.demand_servants is not None:
            DEMAND_SERVANTS.labels(system).set(known(message.demand_servants))
    elif isinstance(message, Decision):
        SERVANTS_DESIRED.labels(message.system).set(message.target_servants)
        MSA.labels(message.system).set(message.msa)
        LEARNED_SAMPLES.labels(message.system).set(message.learned_samples)
    elif isinstance(message, Observation) and message.metric == "request_rate":
        key = (message.system, message.resource or message.domain or "")
        with _demand_lock:
            _demand[key] = message.value
            total = sum(v for (s, _), v in _demand.items() if s == message.system)
        DEMAND.labels(message.system).set(total)
    elif isinstance(message, Enforcement):
        pass  # counted by the enforcer (it also knows about actions it does not publish)


def set_service(service: str) -> None:
    """Label this process's ``arca_service_info`` with the service it runs."""
    try:
        version = metadata.version("arca")
    except metadata.PackageNotFoundError:
        version = "unknown"
    SERVICE_INFO.info({"service": service, "version": version})


HealthCheck = Callable[[], dict[str, Any]]
"""Returns the readiness report of the process: ``{"ready": bool, ...details}``."""


NOT_FOUND = b"not found: this server answers /metrics, /healthz and /readyz\n"


def serve(port: int, host: str = "127.0.0.1",
          health: HealthCheck | None = None) -> tuple[WSGIServer, int]:
    """Expose ``/metrics`` (and ``/healthz``, ``/readyz``) over HTTP in a daemon thread; returns the
    server and its bound port. Any other path is 404 (nothing else is served).

    ``/healthz`` answers 200 while the process serves (liveness); ``/readyz`` answers 200 when
    ``health()`` says ready and 503 otherwise, with the report as JSON either way (e.g. bus
    connected, knowledge base reachable, writes buffered on the broker).
    ``port=0`` picks a free port (tests). Stop it with ``server.shutdown()``.
    """
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            report: dict[str, Any] = {"ready": True} if health is None else health()
            ok = path == "/healthz" or bool(report.get("ready"))
            body = json.dumps(report, default=str).encode()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/metrics":
            result: list[bytes] = metrics_app(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(NOT_FOUND)))])
        return [NOT_FOUND]

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="arca-metrics-http", daemon=True).start()
    return server, int(server.server_port)
