"""Typed bus messages: the envelope every message carries and the message types of the loop.

Each model maps one-to-one to an RDF graph in the ARCA ontology (see ``codec.py``): the message is
the node ``urn:uuid:<message_id>`` of class ``arca:<TypeName>``, and each field ``snake_name`` is
the property ``arca:camelName``. Fields left as ``None`` are simply absent from the graph.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

_ROUTING_SAFE = re.compile(r"[^A-Za-z0-9_\-]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def new_id() -> str:
    """A fresh message/correlation id: an RFC 4122 UUID in its canonical (hyphenated) form, so the
    message's node ``urn:uuid:<id>`` is a valid RFC 4122 URN (Fuseki warned of every 32-hex one)."""
    return str(uuid.uuid4())


def routing_token(value: str) -> str:
    """Make an identifier safe as one word of an AMQP topic routing key."""
    return _ROUTING_SAFE.sub("_", value) or "_"


class Message(BaseModel):
    """Envelope shared by every bus message."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: ClassVar[str] = "message"
    """First word of the routing key (``<kind>.<key>``)."""

    message_id: str = Field(default_factory=new_id, min_length=1)
    correlation_id: str = Field(default_factory=new_id, min_length=1)
    event_time: datetime
    producer: str = "arca"

    @field_validator("*")
    @classmethod
    def _representable(cls, v: Any, info: ValidationInfo) -> Any:
        """Every datetime aware (naive ones cannot be compared with the loop's aware times), every
        string encodable as UTF-8 (no lone surrogates: N-Triples and the store could not hold it)."""
        if isinstance(v, datetime) and v.utcoffset() is None:
            raise ValueError(f"{info.field_name} must carry a timezone (naive datetime refused)")
        if isinstance(v, str) and _SURROGATE.search(v):
            raise ValueError(f"{info.field_name} holds a lone UTF-16 surrogate")
        return v

    def routing_key(self) -> str:
        return f"{self.kind}.{routing_token(self.routing_subject())}"

    def routing_subject(self) -> str:
        system = getattr(self, "system", None)
        return str(system) if system else "_"

    def follow(self) -> dict[str, Any]:
        """Envelope kwargs for a message caused by this one (keeps the correlation id)."""
        return {"correlation_id": self.correlation_id}


class Observation(Message):
    """One measurement: a metric value of a resource of a controlled system at a time."""

    kind: ClassVar[str] = "observation"
    system: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    value: float
    unit: str = ""
    resource: str | None = None
    domain: str | None = None


class ExternalEvent(Message):
    """An incident notified by an external detector (YANG event, CAP alert)."""

    kind: ClassVar[str] = "event"
    event_id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    onset: datetime
    payload_kind: Literal["basic", "seismometer", "bigdata", "cap"]
    severity: int | None = Field(default=None, ge=0)
    magnitude: float | None = None
    sequence: int | None = None
    location: str | None = None
    domain: str | None = None
    system: str | None = None
    cancelled: bool = False
    references: str | None = None
    description: str | None = None

    def routing_subject(self) -> str:
        return self.source


class TopologyChange(Message):
    """VM lifecycle of a servant, as told by the infrastructure (e.g. Nova notifications)."""

    kind: ClassVar[str] = "topology"
    system: str = Field(min_length=1)
    server_id: str = Field(min_length=1)
    state: Literal["building", "active", "deleted", "error", "shutoff"]
    server_name: str | None = None
    address: str | None = None
    host: str | None = None
    origin_event: str | None = None


class Alarm(Message):
    """An orchestrator alarm (OSM policy-module webhook)."""

    kind: ClassVar[str] = "alarm"
    system: str = Field(min_length=1)
    alarm_id: str = Field(min_length=1)
    metric: str
    status: Literal["alarm", "ok", "insufficient-data"]
    severity: str = ""
    ns_id: str | None = None
    vnf_member_index: str | None = None
    vdu_name: str | None = None
    threshold: float | None = None
    operation: str | None = None


class ActiveIncident(BaseModel):
    """One incident still active for a system (part of a ``Situation``, not a message of its own).

    In RDF it is the node ``<urn:arca:incident:HASH>`` of class ``arca:Incident`` that the situation
    points to with ``arca:activeIncident``; the node is named by its content
    (``arca.messages.codec.node_iri``), so every situation carrying the same incident refers to the
    same node and the knowledge base stores it once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    rdf_class: ClassVar[str] = "Incident"
    rdf_node_prefix: ClassVar[str] = "urn:arca:incident:"
    incident_id: str = Field(min_length=1)
    severity: int = Field(ge=0)
    onset: datetime
    source: str = Field(min_length=1)
    domain: str | None = None
    detected_from_load: bool = False

    @field_validator("onset")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("onset must carry a timezone")
        return v


def _incident_order(inc: ActiveIncident) -> tuple[float, int, str]:
    return inc.onset.timestamp(), inc.severity, inc.incident_id


class Situation(Message):
    """What the analyzer knows about one controlled system at ``event_time``.

    ``incidents`` holds every incident still active for the system (oldest onset first); the
    ``incident_*`` fields repeat the latest of them (the one ``arca status`` shows).
    """

    kind: ClassVar[str] = "situation"
    system: str = Field(min_length=1)
    servants_active: int = Field(ge=0)
    servants_booting: int = Field(default=0, ge=0)
    average_load: float | None = Field(default=None, ge=0.0)
    """Mean CPU load (0..1) of the servants with a fresh figure (``servants_reporting`` of them);
    None when no servant has one: the load is unknown, never taken as 0."""
    discard_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    incident_severity: int = Field(default=0, ge=0)
    incident_id: str | None = None
    incident_source: str | None = None
    incident_onset: datetime | None = None
    incident_elapsed_s: float | None = None
    detected_from_load: bool = False
    trigger: str = ""
    demand_servants: float | None = Field(default=None, ge=0.0)
    """Offered load in servant-equivalents at 100 % CPU (offered request rate / a servant's estimated
    capacity, or sum of the reporting servants' CPU / share of requests served); None: unknown."""
    load_time: datetime | None = None
    """End of the telemetry window the load figures were averaged over."""
    load_window_s: float | None = Field(default=None, ge=0.0)
    """Length of that window (the load is centred half a window before ``load_time``)."""
    demand_peak_servants: float | None = Field(default=None, ge=0.0)
    """The highest demand (servant-equivalents) over a short sub-interval of that window (the load
    balancers' ``request_rate_peak``): a window's mean hides the top of a short burst; None: unknown."""
    demand_peak_time: datetime | None = None
    """When that peak was (the middle of its sub-interval)."""
    servants_reporting: int | None = Field(default=None, ge=0)
    """Servants whose CPU figure is in ``average_load`` (None: not counted); the active ones beyond
    it have no figure in the window (the HPA strategy fills them in, ``arca.decider.hpa``)."""
    incidents: tuple[ActiveIncident, ...] = Field(
        default=(), json_schema_extra={"rdf_property": "activeIncident"},
        description="An incident still active for the system (every one counts, not only the latest).")

    @field_validator("incidents")
    @classmethod
    def _canonical(cls, v: tuple[ActiveIncident, ...]) -> tuple[ActiveIncident, ...]:
        ids = [i.incident_id for i in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"incident ids must be unique, repeated: {', '.join(dup)}")
        return tuple(sorted(v, key=_incident_order))


class Decision(Message):
    """How many servants a system should have, why, and from what."""

    kind: ClassVar[str] = "decision"
    system: str = Field(min_length=1)
    strategy: str = Field(min_length=1)
    target_servants: int = Field(ge=0)
    msa: int = Field(default=0, ge=0)
    reason: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    predicted_msa: float | None = None
    clipped: bool = False
    learned_samples: int = Field(default=0, ge=0)
    situation_id: str | None = None
    incident_id: str | None = None
    standby_servants: int | None = Field(default=None, ge=0)
    """Servants the warm pool should keep standing by (None: the system has no warm pool)."""
    discard_objective: float | None = Field(default=None, ge=0.0, le=1.0)
    """The policy's discard objective (None: the policy states none)."""
    discard_measured: float | None = Field(default=None, ge=0.0, le=1.0)
    """Share of the offered demand discarded so far, as the decider measured it."""


class Enforcement(Message):
    """Outcome of one enforcer action: closes the loop back to the analyzer."""

    kind: ClassVar[str] = "enforcement"
    system: str = Field(min_length=1)
    action: str = Field(min_length=1)
    driver: str = Field(min_length=1)
    outcome: Literal["succeeded", "failed", "skipped", "in_progress"]
    desired_servants: int = Field(ge=0)
    active_servants: int = Field(ge=0)
    booting_servants: int = Field(default=0, ge=0)
    standby_servants: int = Field(default=0, ge=0)
    started_at: datetime
    finished_at: datetime | None = None
    decision_id: str | None = None
    target: str | None = None
    detail: str = ""


class PolicyUpdated(Message):
    """An admin applied a policy; services reload it from the knowledge base."""

    kind: ClassVar[str] = "policy"
    system: str = Field(min_length=1)
    policy: str = Field(min_length=1)


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.__name__: cls
    for cls in (
        Observation,
        ExternalEvent,
        TopologyChange,
        Alarm,
        Situation,
        Decision,
        Enforcement,
        PolicyUpdated,
    )
}
"""Every message class by its RDF class local name (``arca:<name>``)."""
