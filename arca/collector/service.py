"""``CollectorService``: wires the collector's adapters to the bus; it decides nothing.

Inputs: HTTP ingest (detector events, CAP alerts, OSM webhooks), AMQP ingest of detector events
(``arca.detectors``), Nova versioned notifications from OpenStack's bus, and pollers run on ``tick``
(Gnocchi ``cpu_util``, HAProxy stats). Every accepted input becomes a message published on the bus;
every refused one is counted (``arca_messages_rejected_total{service="collector"}``) and answered or
dead-lettered, never published. ``PolicyUpdated`` messages reload the severity scales and the
sources' trust, whose rate limits the ingestor applies at the door (a flood is answered 429 before it
reaches the bus; the analyzer keeps the exact check).

A poller whose mapping matches nothing is an error, not a silent zero (issue 19): load-balancer keys
that name no ``haproxy_urls`` entry are refused with the settings (``mapping_problems``); at start
the collector polls every load balancer once, and stats without the FRONTEND/BACKEND its key maps to
(``haproxy_proxies``, else the only ones) or a Gnocchi that lists servants of other systems only are
logged as errors naming the key and reported by ``/readyz`` (``problems``, not ready) until a poll
matches.

With ``collector.http_workers`` > 1 the HTTP ingest is served by several processes on one port
(``arca.collector.workers``): this process and its workers, each started as ``arca run collector``
with ``collector.http_worker`` set, which serve HTTP only (no pollers, no AMQP ingest) and reload the
knowledge on every policy change through a queue of their own.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from arca.backoff import Backoff
from arca.collector.amqp import AmqpIngest
from arca.collector.auth import TOKEN_HEADER
from arca.collector.errors import IngestError
from arca.collector.gnocchi import SYSTEM_KEY, GnocchiPoller, openstack_fetchers
from arca.collector.haproxy import HaproxyPoller
from arca.collector.http import HttpIngestServer, create_app
from arca.collector.ingest import Ingestor, Outcome
from arca.collector.routing import Router
from arca.collector.severity import SeverityScales, load_scales
from arca.collector.workers import (
    CPUS_ENV,
    PARENT_ENV,
    HttpWorkers,
    cpu_for,
    parent_gone,
    parse_cpus,
    pin_process,
)
from arca.messages import Message, Observation, PolicyUpdated
from arca.messages.models import new_id
from arca.metrics import MESSAGES_REJECTED
from arca.policy import PolicyError, load_policies
from arca.service import Deps, Service
from arca.trust import load_trusts

log = logging.getLogger(__name__)


class CollectorService(Service):
    """Adapters in, typed messages out."""

    name: ClassVar[str] = "collector"
    patterns: ClassVar[Sequence[str]] = ("policy.#",)

    def __init__(
        self,
        deps: Deps,
        *,
        gnocchi: GnocchiPoller | None = None,
        haproxy: Sequence[HaproxyPoller] | None = None,
    ) -> None:
        super().__init__(deps)
        self.cfg = self.settings.collector
        self._publish_lock = threading.RLock()
        self.ingestor = Ingestor(self.cfg, self.emit, SeverityScales({}), confirm=self.confirm,
                                 now=self.clock.now)
        if self.ingestor.auth.open:
            warning = ("UNAUTHENTICATED mode: collector.allow_unauthenticated is set and no token is "
                       "configured, so any client may send events and alarms (development only)")
            log.warning(warning)
            self.warnings.append(warning)
        self.load_knowledge()
        self.worker = self.cfg.http_worker
        """This process's number when it is one of the HTTP worker processes (HTTP ingest only)."""
        parent = os.environ.get(PARENT_ENV, "")
        self._parent_pid = int(parent) if self.worker is not None and parent.isdigit() else None
        self.gnocchi = gnocchi if self.worker is None else None
        self.problems: dict[str, str] = {}
        """Input -> why its mapping matches nothing (``/readyz`` reports them; empty: all match)."""
        self._check_at_start = haproxy is None and bool(self.cfg.haproxy_urls) and self.worker is None
        self.haproxy = ([] if self.worker is not None else
                        list(haproxy) if haproxy is not None else self._haproxy_from_settings())
        self.http: HttpIngestServer | None = None
        self.workers: HttpWorkers | None = None
        """The other HTTP worker processes (``collector.http_workers`` > 1, first process only)."""
        self.amqp: list[AmqpIngest] = []

    def refresh_knowledge(self) -> None:
        """The detectors' severity scales (none while the store was never reachable), and with
        ``routing = "policies"`` the stored policies the inputs are routed by."""
        self.ingestor.scales = load_scales(self.kb)
        self.ingestor.trusts = load_trusts(self.kb)
        if self.cfg.routing == "policies":
            try:
                self.ingestor.router = Router(load_policies(self.kb))
            except PolicyError as exc:  # an invalid stored policy: keep routing by the last good ones
                log.error("policies not reloaded for routing: %s", exc)

    # --- output -------------------------------------------------------------------------------
    def emit(self, message: Message) -> Any:
        """Publish from any thread (HTTP, AMQP consumers, tick); returns the ticket ``confirm`` takes.

        ``RabbitBus`` publishes concurrently (it only appends to its outbox), so no lock is taken;
        the in-process bus delivers in the calling thread, which the lock serialises.
        """
        if self.bus.concurrent_publish:
            return self.bus.publish_tracked(message)
        with self._publish_lock:
            return self.bus.publish_tracked(message)

    def confirm(self, tickets: Sequence[Any]) -> None:
        """Wait until the broker confirmed the messages of ``tickets`` (raises ``BusError``).

        Called before an input is acknowledged (HTTP 202, AMQP ack), so an accepted input is never
        lost between the collector and the bus. On RabbitMQ no lock is held while waiting: the
        publishes of concurrent requests are in flight together and each waits for its own confirms.
        """
        timeout = self.settings.bus.confirm_timeout_s
        if self.bus.concurrent_publish:
            self.bus.wait_confirmed(tickets, timeout)
            return
        with self._publish_lock:
            self.bus.flush(timeout)

    # --- lifecycle ----------------------------------------------------------------------------
    def attach(self) -> None:
        subscribe_own = getattr(self.deps.bus, "subscribe_sharded", None)
        if self.worker is not None and callable(subscribe_own):
            # every worker must see every policy change: a queue of its own, not the shared one
            subscribe_own(self.queue, [], self.patterns, self.deliver)
        else:
            super().attach()
        if self._check_at_start:  # the first poll of every load balancer, before "started" is logged
            self._check_at_start = False
            self._poll([("haproxy", p) for p in self.haproxy], self.clock.now())
        self.start_inputs()

    def _pin(self) -> tuple[int, ...]:
        """``collector.http_pin_cpus``: pin this process to its CPU; the CPUs its workers choose among."""
        if not hasattr(os, "sched_setaffinity"):  # pragma: no cover - Linux has it
            log.warning("collector.http_pin_cpus: CPU affinity is not available here; not pinned")
            return ()
        allowed = parse_cpus(os.environ.get(CPUS_ENV)) if self.worker is not None else []
        allowed = allowed or sorted(os.sched_getaffinity(0))
        offset = self._parent_pid if self._parent_pid is not None else os.getpid()
        cpu = cpu_for(self.worker or 0, allowed, offset)
        pin_process(cpu)
        log.info("collector HTTP process %d pinned to CPU %d of %s", self.worker or 0, cpu, allowed)
        return tuple(allowed)

    def start_inputs(self) -> None:
        cfg = self.cfg
        shared = cfg.http_workers > 1 or self.worker is not None
        if cfg.http_port is not None and self.http is None:
            cpus = self._pin() if cfg.http_pin_cpus else ()
            app = create_app(self.ingestor, self.clock.now, worker=(self.worker or 0) if shared else None)
            self.http = HttpIngestServer(app, cfg.http_host, cfg.http_port, threads=cfg.http_threads,
                                         max_body_bytes=max(cfg.http_max_body_bytes, cfg.cap_max_bytes),
                                         reuse_port=shared)
            self.http.start()
            if cfg.http_workers > 1 and self.worker is None:
                self.workers = HttpWorkers(cfg.http_workers, self.http.port, cpus=cpus)
                self.workers.start()
        if self.amqp or self.worker is not None:
            return
        url = cfg.amqp_url or self.settings.bus.url
        if cfg.amqp_ingest:
            self.amqp.append(AmqpIngest(
                url, exchange=cfg.detectors_exchange, queue=cfg.detectors_queue, routing_keys=["#"],
                handler=self._amqp_event, pass_headers=True, backoff=Backoff.for_bus(self.settings.bus),
            ))
        if cfg.nova_notifications_url:
            self.amqp.append(AmqpIngest(
                cfg.nova_notifications_url, exchange=cfg.nova_exchange,
                queue=f"{cfg.detectors_queue}.nova", routing_keys=[cfg.nova_routing_key],
                handler=lambda body: self.ingestor.nova_notification(body, confirm=True),
                exchange_durable=False, backoff=Backoff.for_bus(self.settings.bus),
            ))
        for consumer in self.amqp:
            consumer.start()

    def _amqp_event(self, body: bytes, headers: Mapping[str, Any]) -> Outcome:
        """A detector event from the detectors exchange: its ``x-arca-token`` header must hold the
        token issued to the event's source (same tokens and check as HTTP)."""
        token = headers.get(TOKEN_HEADER)
        if isinstance(token, bytes):
            token = token.decode("utf-8", "replace")
        return self.ingestor.detector_event(
            body, "event", token=token if isinstance(token, str) else None, authenticate=True, confirm=True
        )

    def close(self) -> None:
        """Stop the HTTP server, the other HTTP worker processes and the AMQP consumers."""
        if self.http is not None:
            self.http.stop()
            self.http = None
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        for consumer in self.amqp:
            consumer.stop()
        self.amqp.clear()

    # --- bus input ----------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        if isinstance(message, PolicyUpdated) and self.load_knowledge():
            log.info("severity scales, source trust (and routing policies) reloaded after policy %s",
                     message.policy)

    # --- pollers ------------------------------------------------------------------------------
    def _haproxy_from_settings(self) -> list[HaproxyPoller]:
        import requests

        pollers = []
        for lb, url in self.cfg.haproxy_urls.items():
            def fetch(url: str = url) -> str:
                resp = requests.get(url, timeout=5)
                resp.raise_for_status()
                return resp.text

            fe, _, be = self.cfg.haproxy_proxies.get(lb, "").partition(",")
            pollers.append(HaproxyPoller(
                fetch, system=self.cfg.system, lb_name=lb, domain=self.cfg.haproxy_domains.get(lb),
                frontend=fe or None, backend=be or None, interval_s=self.cfg.haproxy_interval_s,
                peak_interval_s=self.cfg.haproxy_peak_interval_s,
            ))
        return pollers

    def _gnocchi_poller(self) -> GnocchiPoller | None:
        if self.gnocchi is None and self.cfg.gnocchi_enabled:
            import openstack

            conn: Any = openstack.connect(cloud=self.cfg.openstack_cloud)
            self.gnocchi = GnocchiPoller(*openstack_fetchers(conn), interval_s=self.cfg.gnocchi_interval_s)
        return self.gnocchi

    def tick(self, now: datetime) -> None:
        if self.worker is not None:
            if parent_gone(self._parent_pid, os.getppid()):
                log.error("collector HTTP worker %d: the collector that started it is gone: stopping",
                          self.worker)
                os.kill(os.getpid(), signal.SIGTERM)  # arca run's handler stops the loop cleanly
            return
        if self.workers is not None:
            dead = self.workers.check()  # logged there; /readyz says not ready until they are back
            if dead:
                self.problems["http_workers"] = "; ".join(dead)
            else:
                self.problems.pop("http_workers", None)
        pollers: list[tuple[str, Any]] = [("haproxy", p) for p in self.haproxy]
        try:
            gnocchi = self._gnocchi_poller()
        except Exception as exc:  # OpenStack unreachable: counted, retried next tick
            self._poll_failed("gnocchi", exc)
            gnocchi = None
        if gnocchi is not None:
            pollers.append(("gnocchi", gnocchi))
        self._poll(pollers, now)

    def _poll(self, pollers: list[tuple[str, Any]], now: datetime) -> None:
        for channel, poller in pollers:
            if not poller.due(now):
                continue
            key = f"haproxy:{poller.lb_name}" if channel == "haproxy" else channel
            try:
                observations = poller.poll(now)
            except IngestError as exc:
                self.ingestor.reject(channel, exc)
                if channel == "haproxy":
                    self._problem(key, f"collector.haproxy_urls[{poller.lb_name!r}]: the statistics do "
                                       f"not match its key: {exc} (set collector.haproxy_proxies"
                                       f"[{poller.lb_name!r}] = 'frontend,backend')")
                continue
            except Exception as exc:
                self._poll_failed(channel, exc)
                continue
            if channel == "gnocchi":
                self._check_gnocchi(poller)
            else:
                self._solved(key)
            if channel == "haproxy" and self.cfg.routing == "policies":
                observations = self._route_lb(poller, observations)
            for obs in observations:
                self.emit(obs)

    def _check_gnocchi(self, poller: GnocchiPoller) -> None:
        """With one system, a Gnocchi listing servants of other systems only matches nothing."""
        seen = poller.systems_seen
        if self.cfg.routing == "system" and seen and self.cfg.system not in seen:
            self._problem("gnocchi", f"collector.system {self.cfg.system!r}: none of the servers listed "
                                     f"has metadata {SYSTEM_KEY}={self.cfg.system!r} (found "
                                     f"{', '.join(sorted(seen))}): no CPU figure for it")
        else:
            self._solved("gnocchi")

    def _problem(self, key: str, why: str) -> None:
        if self.problems.get(key) != why:
            log.error("input %s matches nothing: %s", key, why, extra={"input": key})
        self.problems[key] = why

    def _solved(self, key: str) -> None:
        if self.problems.pop(key, None) is not None:
            log.info("input %s matches again", key, extra={"input": key})

    def _route_lb(self, poller: HaproxyPoller, observations: list[Observation]) -> list[Observation]:
        """LB statistics for every system whose policy lists the LB's domain (none: counted, refused)."""
        systems = self.ingestor.router.systems_for_domain(poller.domain)
        if not systems:
            self.ingestor.reject("haproxy", IngestError(
                "unrouted", f"haproxy_domains/{poller.lb_name}",
                f"no system's policy lists the domain {poller.domain!r} of load balancer {poller.lb_name!r}",
            ))
            return []
        return [obs.model_copy(update={"system": s, "message_id": new_id()})
                for obs in observations for s in systems]

    def _poll_failed(self, channel: str, exc: Exception) -> None:
        MESSAGES_REJECTED.labels(service=self.name, reason=f"{channel}:unreachable").inc()
        log.warning("%s poll failed: %r", channel, exc)
