"""Settings of the collector (group ``collector`` of ``ArcaSettings``: ``ARCA_COLLECTOR__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class CollectorSettings(BaseModel):
    """Knobs of the collector; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
    severity_min: int = Field(default=0, ge=0, description="Lowest severity of the incident scale.")
    severity_max: int = Field(
        default=4, ge=0, description="Highest severity of the incident scale (outside -> rejected)."
    )
    system: str = Field(
        default="emergency",
        description="Controlled system that detector events, LB statistics and OSM alarms belong to "
        "(routing 'system').",
    )
    routing: Literal["system", "policies"] = Field(
        default="system",
        description="'system': every input belongs to `system`. 'policies': one collector serves many "
        "systems; detector events go to the systems whose policy listens to their source or domain, LB "
        "statistics to those listing the LB's domain, OSM alarms by osm_ns_systems; an input that "
        "concerns no system is refused (reason 'unrouted') and counted.",
    )
    http_port: int | None = Field(
        default=None, description="Port of the HTTP ingest endpoint (events, CAP, OSM); off when unset."
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP ingest endpoint listens on.")
    http_threads: int = Field(
        default=16, ge=1, le=256,
        description="Worker threads of the HTTP ingest server (waitress); each request holds one while "
        "it is validated and its messages are confirmed by the bus. More threads in flight share each "
        "wake-up of the bus's I/O thread and each broker confirm (docs/scale.md: 16 rather than 8 cut an "
        "event's CPU by a sixth at 16 connections).",
    )
    http_workers: int = Field(
        default=1, ge=1, le=64,
        description="Processes serving the HTTP ingest port together (SO_REUSEPORT): `arca run collector` "
        "serves it itself and starts http_workers - 1 worker processes, each a full ingest path with its "
        "own broker connection, duplicate memory and rate-limit window (a source may get up to "
        "http_workers x its limit through the door; the analyzer keeps the exact limit). Stopped with "
        "the collector. Needs bus.kind 'rabbitmq'. Default 1: one process, exact door limits; set it to "
        "the cores the collector may use (docs/scale.md, 'HTTP ingest').",
    )
    http_pin_cpus: bool = Field(
        default=False,
        description="Pin each HTTP ingest process to one CPU of those it may use (the first process and "
        "its http_workers - 1 workers on distinct CPUs, starting at a CPU chosen by the first process's "
        "pid so that collectors on one host start apart). A Python process serving HTTP with ~20 threads "
        "spends about half its CPU handing the interpreter lock between cores when it may run on several; "
        "pinned, one event cost 366-410 against 586-860 µs unpinned (docs/scale.md, 'HTTP ingest v3'). "
        "Off by default: a pinned process cannot move away from a CPU that other work keeps busy; set "
        "http_workers to the CPUs the collector may use and turn this on.",
    )
    http_worker: int | None = Field(
        default=None, ge=1, le=63,
        description="Set by the collector on the HTTP worker processes it starts (their number); never "
        "set it yourself: a worker serves HTTP ingest only (no pollers, no AMQP ingest).",
    )
    http_max_body_bytes: int = Field(
        default=65536, ge=256, description="Largest accepted HTTP body (larger -> 413)."
    )
    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Token per source (detector, CAP sender, 'osm'): HTTP bearer / AMQP x-arca-token "
        "header. Prefer ARCA_COLLECTOR__TOKENS_FILE (a JSON secret file).",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Accept inputs without a token when no token is configured (development only; "
        "otherwise the collector refuses every input until tokens are configured).",
    )
    osm_principals: list[str] = Field(
        default_factory=lambda: ["osm"],
        description="Sources (token holders) allowed to post OSM alarm webhooks.",
    )
    amqp_ingest: bool = Field(
        default=False, description="Consume detector events from the AMQP detectors exchange."
    )
    amqp_url: str | None = Field(
        default=None, description="Broker of the detectors exchange (defaults to bus.url)."
    )
    detectors_exchange: str = Field(
        default="arca.detectors", description="Durable topic exchange detectors publish events to."
    )
    detectors_queue: str = Field(
        default="arca.detectors", description="Durable queue the collector consumes detector events from."
    )
    cap_max_bytes: int = Field(default=262144, ge=1024, description="Largest accepted CAP document.")
    duplicate_memory: int = Field(
        default=10000, ge=1, description="(source, id) pairs remembered per source to absorb duplicates."
    )
    gnocchi_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between Gnocchi cpu_util polls (OpenStack's floor: 10 s)."
    )
    gnocchi_enabled: bool = Field(default=False, description="Poll Gnocchi for servant CPU utilisation.")
    openstack_cloud: str | None = Field(
        default=None, description="clouds.yaml entry used by the Gnocchi poller (openstacksdk)."
    )
    haproxy_urls: dict[str, str] = Field(
        default_factory=dict, description="Load-balancer name -> HAProxy stats CSV URL (';csv')."
    )
    haproxy_domains: dict[str, str] = Field(
        default_factory=dict, description="Load-balancer name -> network domain it serves."
    )
    haproxy_proxies: dict[str, str] = Field(
        default_factory=dict,
        description="Load-balancer name -> 'frontend,backend' proxy names in its stats (else the only ones).",
    )
    haproxy_interval_s: float = Field(default=10.0, gt=0, description="Seconds between HAProxy polls.")
    haproxy_peak_interval_s: float | None = Field(
        default=1.0, gt=0, description="Seconds between the reads of the HAProxy counters inside a poll "
        "interval, whose highest request rate is published with each poll as ``request_rate_peak`` (the "
        "window's peak demand, which the decider learns where its curve is short); None or not below "
        "haproxy_interval_s: off.")
    nova_notifications_url: str | None = Field(
        default=None, description="AMQP URL of OpenStack's message bus (Nova notifications); off if unset."
    )
    nova_exchange: str = Field(default="nova", description="Topic exchange of Nova's notifications.")
    nova_routing_key: str = Field(
        default="versioned_notifications.info", description="Routing key of versioned notifications."
    )

    @model_validator(mode="after")
    def _lb_keys_match(self) -> CollectorSettings:
        """Every load-balancer key of ``haproxy_domains`` and ``haproxy_proxies`` must be a key of
        ``haproxy_urls``: a key that matches none would be ignored, silently (issue 19)."""
        problems = mapping_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    osm_ns_systems: dict[str, str] = Field(
        default_factory=dict, description="OSM NS instance id -> controlled system: the NS instances ARCA "
        "manages. An OSM alarm of any other NS is refused (403 unmanaged); unset, every OSM alarm is."
    )


def mapping_problems(cfg: CollectorSettings) -> list[str]:
    """What in the load-balancer settings matches nothing, each naming its key (empty: all good)."""
    names = sorted(cfg.haproxy_urls)
    known = ", ".join(repr(n) for n in names) or "none"
    problems = []
    for setting, keys in (("haproxy_domains", cfg.haproxy_domains), ("haproxy_proxies", cfg.haproxy_proxies)):
        for key in sorted(keys):
            if key not in cfg.haproxy_urls:
                problems.append(f"collector.{setting} key {key!r} names no load balancer of "
                                f"collector.haproxy_urls (its keys: {known})")
    for key, value in sorted(cfg.haproxy_proxies.items()):
        frontend, comma, backend = value.partition(",")
        if not (frontend.strip() and comma and backend.strip()):
            problems.append(f"collector.haproxy_proxies[{key!r}] = {value!r}: expected 'frontend,backend'")
    if cfg.routing == "policies":
        problems += [f"collector.haproxy_urls key {key!r} has no domain in collector.haproxy_domains: with "
                     "routing 'policies' its statistics would concern no system" for key in names
                     if key not in cfg.haproxy_domains]
    return problems
