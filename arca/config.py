"""The spine's own settings groups: the bus, the knowledge base and observability.

They live here, below the services, so the spine (bus, store, logs) is configured without importing
any service; ``arca.app.settings.ArcaSettings`` (the composition root) aggregates them with every
service's own group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BusSettings(BaseModel):
    """The message bus."""

    kind: Literal["memory", "rabbitmq"] = Field(
        default="memory", description="'memory' (in-process, embedded default) or 'rabbitmq'."
    )
    url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="AMQP URL of the broker (credentials and vhost included); the nodes of a "
                    "cluster as several URLs separated by commas, tried in turn on (re)connection.",
    )
    exchange: str = Field(default="arca", description="Durable topic exchange of the loop.")
    dead_letter_exchange: str = Field(
        default="arca.dlx", description="Exchange receiving refused/poison messages."
    )
    dead_letter_queue: str = Field(
        default="arca.dead-letter", description="Durable queue bound to the dead-letter exchange."
    )
    dead_letter_quorum: bool = Field(
        default=False,
        description="Make the dead-letter queue a quorum queue (set it on a cluster: a classic queue is "
                    "unavailable while its node is down). An existing classic queue of that name must be "
                    "deleted first (a queue's type cannot change).",
    )
    queue_prefix: str = Field(default="arca.", description="Prefix of each service's queue name.")
    prefetch: int = Field(
        default=1000, ge=1,
        description="Unacknowledged deliveries per consumer: the window a service that fell behind orders "
                    "and folds (a burst spread over a hundred systems meets in a window of a thousand; the "
                    "delivery thread's planner costs the same at any size).",
    )
    delivery_limit: int = Field(
        default=5, ge=1, description="Deliveries of a failing message before it is dead-lettered."
    )
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="First reconnect backoff.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect backoff.")
    confirm_timeout_s: float = Field(
        default=30.0, gt=0, description="How long flush() waits for publisher confirms."
    )
    shards: int = Field(
        default=0, ge=0, le=256,
        description="Virtual shards of the decider's and enforcer's queues (0: one queue per service, "
                    "one consumer process). N > 0: N quorum queues per service with single active "
                    "consumer, a system always on the same one, so replicas share systems and take "
                    "over a dead one's (docs/topology.md). Every process of a deployment must agree.",
    )
    replicas: int = Field(
        default=1, ge=1, description="Expected replicas per service (spreads the shards' first claims)."
    )
    replica_index: int | None = Field(
        default=None, ge=0,
        description="This replica's index in 0..replicas-1: it claims shards i with i % replicas == "
                    "index at once and the others shard_claim_delay_s later (unset: all at once).",
    )
    shard_claim_delay_s: float = Field(
        default=3.0, ge=0, description="Delay before a replica subscribes to the shards not its own."
    )


def broker_urls(url: str) -> list[str]:
    """The AMQP URLs of ``bus.url`` (one, or a cluster's nodes separated by commas)."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    if not urls:
        raise ValueError("bus.url names no broker")
    return urls


MAX_RETENTION_S = 366 * 86400.0
"""Longest retention a rule may set (a year)."""
MAX_RETAINED = 10_000_000
"""Most messages a rule may keep per key."""


class KindRetention(BaseModel):
    """How long the stored messages of one kind are kept (``arca.kb.retention``).

    Ranked newest first per key (the system; the source for events): the newest ``keep_latest`` are
    always kept, whatever their age; the others go once older than ``max_age_s``; and nothing beyond
    the newest ``max_count`` of a key is kept, however young (what bounds a flood)."""

    model_config = ConfigDict(extra="forbid")

    max_age_s: float = Field(gt=0, le=MAX_RETENTION_S, description="Age (event time) beyond which a "
                             "message goes, unless among the newest keep_latest of its key.")
    max_count: int = Field(ge=1, le=MAX_RETAINED, description="Most messages kept per key.")
    keep_latest: int = Field(default=1, ge=0, description="Newest messages of a key kept whatever their age.")

    @model_validator(mode="after")
    def _latest_within_count(self) -> KindRetention:
        if self.keep_latest > self.max_count:
            raise ValueError(f"keep_latest ({self.keep_latest}) exceeds max_count ({self.max_count})")
        return self


class EventRetention(KindRetention):
    """Events, per source: the analyzer's rebuild reads the newest 500 and needs those of
    the last ``incident_ttl_s`` (120 s); a day keeps the audit of what each source said (the live
    loop's audit, tests/loopkit.py, finds every accepted event); 20,000 is above a day at the shipped
    rate limit (10 per 60 s: 14,400), so only a source with no limit is cut by count."""

    max_age_s: float = Field(default=86400.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=20000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=1, ge=0)


class SituationRetention(KindRetention):
    """Situations, per system: ``arca status`` reads the latest; an hour keeps the audit from
    each event to its situation (tests/loopkit.py) and the recent history (360 telemetry situations
    an hour, plus the events'; 5,000 bounds a flood with no source limit)."""

    max_age_s: float = Field(default=3600.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=5000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=1, ge=0)


class DecisionRetention(KindRetention):
    """Decisions, per system: ``arca status`` shows the last 5; learning keeps its own samples
    (``arca:graph/samples``), never read from decisions; a day of telemetry decisions is 8,640."""

    max_age_s: float = Field(default=86400.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=10000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=5, ge=0)


class EnforcementRetention(KindRetention):
    """Enforcements, per system: ``arca status`` reads the last 20."""

    max_age_s: float = Field(default=86400.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=10000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=20, ge=0)


class AlarmRetention(KindRetention):
    """Orchestrator alarms, per system: audit only."""

    max_age_s: float = Field(default=86400.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=1000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=1, ge=0)


class ObservationRetention(KindRetention):
    """Observations, per system: no service stores them today (the analyzer keeps its
    window in memory); the rule bounds them should one do."""

    max_age_s: float = Field(default=3600.0, gt=0, le=MAX_RETENTION_S)
    max_count: int = Field(default=1000, ge=1, le=MAX_RETAINED)
    keep_latest: int = Field(default=1, ge=0)


class RetentionSettings(BaseModel):
    """Retention of the audit trail, per message kind (docs/ops.md, "Retention"). Each kind has one
    owner that deletes it on its ticks every ``interval_s``: the analyzer events, situations, alarms
    and observations, the decider decisions, the enforcer enforcements; ``arca kb compact`` applies
    the same rules at once."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Let the services delete what the rules allow.")
    interval_s: float = Field(default=60.0, gt=0, description="Seconds (service clock) between two "
                              "compactions by a service.")
    event: EventRetention = Field(default_factory=EventRetention,
                                  description=EventRetention.__doc__)
    situation: SituationRetention = Field(default_factory=SituationRetention,
                                          description=SituationRetention.__doc__)
    decision: DecisionRetention = Field(default_factory=DecisionRetention,
                                        description=DecisionRetention.__doc__)
    enforcement: EnforcementRetention = Field(default_factory=EnforcementRetention,
                                              description=EnforcementRetention.__doc__)
    alarm: AlarmRetention = Field(default_factory=AlarmRetention,
                                  description=AlarmRetention.__doc__)
    observation: ObservationRetention = Field(default_factory=ObservationRetention,
                                              description=ObservationRetention.__doc__)

    def rule(self, kind: str) -> KindRetention:
        rule = getattr(self, kind, None)
        if not isinstance(rule, KindRetention):
            raise KeyError(f"no retention rule for {kind!r}")
        return rule


MAX_COMPACTION_INTERVAL_S = 7 * 86400.0
"""Longest time between two store compactions (a week)."""


class CompactionSettings(BaseModel):
    """Compaction of the store's files (``kb.compaction``). Deleting triples (retention) frees no disk
    by itself: TDB2 keeps every version of its B+trees until compacted (+140 MB an hour measured on a
    live loop; a compaction copies only the live data, about a second for ARCA's retained knowledge,
    hence every 10 minutes by default), RocksDB (Oxigraph) until its own background compaction merges
    the files. With ``url``
    set, one service (``arca.kb.retention.STORAGE_OWNER``) POSTs to it every ``interval_s`` of its
    clock, with the store's credentials."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="The store's compaction endpoint (Fuseki: "
                    "http://HOST:3030/$/compact/arca?deleteOld=true, served when its config has "
                    "fuseki:compactEP true, as ops/fuseki/config.ttl does). Unset: no request "
                    "(Oxigraph has no such endpoint; an embedded store on disk is optimized in process).",
    )
    interval_s: float = Field(default=600.0, gt=0, le=MAX_COMPACTION_INTERVAL_S,
                              description="Seconds (service clock) between two compactions; the first "
                                          "comes one interval after the service starts.")


class KbSettings(BaseModel):
    """The knowledge base (SPARQL store)."""

    kind: Literal["embedded", "sparql"] = Field(
        default="embedded", description="'embedded' (pyoxigraph in process) or 'sparql' (HTTP)."
    )
    path: str | None = Field(
        default=None, description="Directory of the embedded store (in memory when unset)."
    )
    query_url: str = Field(
        default="http://127.0.0.1:3030/arca/query",
        description="SPARQL 1.1 query endpoint (Fuseki /<ds>/query, Oxigraph /query).",
    )
    update_url: str = Field(
        default="http://127.0.0.1:3030/arca/update",
        description="SPARQL 1.1 update endpoint (Fuseki /<ds>/update, Oxigraph /update).",
    )
    store_url: str = Field(
        default="http://127.0.0.1:3030/arca/data",
        description="Graph Store Protocol endpoint (Fuseki /<ds>/data, Oxigraph /store).",
    )
    username: str | None = Field(default=None, description="HTTP basic-auth user, if any.")
    password: str | None = Field(
        default=None, description="HTTP basic-auth password (prefer password_file for secrets)."
    )
    password_file: str | None = Field(
        default=None,
        description="File holding the basic-auth password (a Docker secret); read when password is unset.",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout per request.")
    write_timeout_s: float = Field(
        default=60.0, gt=0,
        description="HTTP timeout of one batch of buffered writes. A batch is one transaction: on TDB2 "
                    "a freshly started (cold) server took over 10 s for 500 updates after an outage, and a "
                    "batch timed out too early is sent again while the server still runs the first.",
    )
    write_batch_max: int = Field(
        default=500, ge=1, description="Most buffered updates sent in one request."
    )
    write_flush_interval_s: float = Field(
        default=0.2, gt=0, description="Longest time a buffered write waits before being sent."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="How long stored messages are kept, per kind (env ARCA_KB__RETENTION__<KIND>__<FIELD>).",
    )
    compaction: CompactionSettings = Field(
        default_factory=CompactionSettings,
        description="Scheduled compaction of the store's files "
                    "(env ARCA_KB__COMPACTION__URL, ARCA_KB__COMPACTION__INTERVAL_S).",
    )


    def secret(self) -> str | None:
        """The basic-auth password: ``password``, else the stripped content of ``password_file``."""
        if self.password is not None:
            return self.password
        if self.password_file:
            try:
                return Path(self.password_file).read_text().strip()
            except OSError as exc:
                raise ValueError(f"kb.password_file {self.password_file!r}: {exc.strerror}") from exc
        return None


class OpsSettings(BaseModel):
    """Observability."""

    metrics_port: int | None = Field(
        default=None, description="Port of the Prometheus /metrics endpoint (off when unset)."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address /metrics listens on (loopback unless configured, e.g. 0.0.0.0 in a container).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_json: bool = Field(default=True, description="One JSON object per log line.")
