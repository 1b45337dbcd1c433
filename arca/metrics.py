"""Every Prometheus metric ARCA exports, defined once (prometheus-client, default registry).

Names follow Prometheus conventions: ``arca_`` prefix, base units (seconds, ratios), ``_total``
for counters, low-cardinality labels only (service, reason class, system, driver, outcome).
Services import the objects they update; ``serve`` exposes ``/metrics`` on the configured port.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_REACTION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

MESSAGES_RECEIVED = Counter(
    "arca_messages_received_total", "Bus messages delivered to a service.", ["service", "kind"]
)
MESSAGES_PUBLISHED = Counter(
    "arca_messages_published_total", "Bus messages published by a service.", ["service", "kind"]
)
MESSAGES_REJECTED = Counter(
    "arca_messages_rejected_total",
    "Inputs refused or dead-lettered, by reason class.",
    ["service", "reason"],
)
HANDLER_SECONDS = Histogram(
    "arca_handler_duration_seconds",
    "Time a service spends handling one message.",
    ["service", "kind"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_TO_DECISION_SECONDS = Histogram(
    "arca_event_to_decision_seconds",
    "Detector event received by the collector -> decision published (wall time).",
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
SERVANTS_DESIRED = Gauge("arca_servants_desired", "Servants the decider wants.", ["system"])
SERVANTS_ACTIVE = Gauge("arca_servants_active", "Servants in service.", ["system"])
SERVANTS_BOOTING = Gauge("arca_servants_booting", "Servants being created.", ["system"])
MSA = Gauge("arca_msa_servants", "Minimum servant amount predicted by the anticipator.", ["system"])
AVERAGE_LOAD = Gauge("arca_average_load_ratio", "Average servant load (0..1).", ["system"])
DISCARD_RATIO = Gauge("arca_discard_ratio", "Share of client requests discarded.", ["system"])
INCIDENT_SEVERITY = Gauge(
    "arca_incident_severity", "Severity of the active incident (0 = none).", ["system"]
)
LEARNED_SAMPLES = Gauge("arca_learned_samples", "Samples in the anticipator model.", ["system"])
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


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Expose ``/metrics`` over HTTP in a daemon thread."""
    start_http_server(port, addr=host)
