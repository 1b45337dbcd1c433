"""``arca bench --systems N --servants M``: the loop at scale, beside raw pika measured in the same run.

What runs: the real ``arca run analyzer`` and ``arca run decider`` processes on RabbitMQ (the URL of
the settings or ``--rabbit-url``) and a SPARQL server (``--store oxigraph|fuseki``: one this command
starts on a free port, the default Oxigraph; ``--store settings``: the configured one; or the
Oxigraph-style ``--sparql-base``), with N systems whose policies are the reference system's, each with
M servants. The bench process plays the collector: it announces the servants (topology), publishes
their ``cpu_util`` every Gnocchi round (10 s, spread over the round as the poller does), and
publishes detector events.

Figures:

* ``event_to_decision_ms`` — one event at a time (``--rate`` per second, round-robin over the
  systems): from publishing the event to consuming the decision that carries its correlation id
  (collector -> analyzer -> decider -> watcher: three hops on the broker);
* ``events_per_s`` — a burst of ``--burst`` events published as fast as confirms allow: events over
  the time until the decision on every system's last event arrived; lossless when the store holds
  every event of the run (``recorded``) once the writers caught up;
* ``reference`` — the same two measurements through a raw pika chain of three hops on quorum queues
  (publisher confirms on every hop, each relay acking a delivery only after its forward was
  confirmed), with the same payloads, in the same run.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError
from arca.app.cli.stores import free_port, kb_env

GNOCCHI_ROUND_S = 10.0


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of ``samples`` (ms), nearest-rank."""
    if not samples:
        raise CliError("no samples measured")
    s = sorted(samples)

    def rank(q: float) -> float:
        return round(s[min(len(s) - 1, max(0, int(len(s) * q + 0.999999) - 1))], 2)

    return {"p50": round(statistics.median(s), 2), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(s[-1], 2)}


@contextlib.contextmanager
def bench_store(kind: str, sparql_base: str | None) -> Iterator[tuple[Any, str]]:
    """The knowledge-base settings of the bench's store and a description of it: an Oxigraph-style
    server at ``sparql_base``; the store of the settings (``kind`` "settings", e.g. compose's Fuseki);
    or an Oxigraph or Fuseki server (``kind``) started on a free port for the run and stopped after."""
    from arca.app.cli.main import settings
    from arca.app.cli.stores import StoreUnavailable, make_server
    from arca.config import KbSettings

    if sparql_base:
        base = sparql_base.rstrip("/")
        yield KbSettings(kind="sparql", query_url=base + "/query", update_url=base + "/update",
                         store_url=base + "/store"), base
        return
    if kind == "settings":
        kb = settings().kb
        if kb.kind != "sparql":
            raise CliError("--store settings needs ARCA_KB__KIND=sparql (a SPARQL server to measure)")
        yield kb, f"the configured store {kb.query_url}"
        return
    with tempfile.TemporaryDirectory(prefix=f"arca-bench-{kind}-") as location:
        try:
            server = make_server(kind, Path(location)).start()
        except StoreUnavailable as exc:
            raise CliError(f"--store {kind}: {exc}") from None
        try:
            yield server.endpoints.kb_settings(), f"{kind} server started by the bench"
        finally:
            server.stop()


def _policy(system: str, servants: int) -> str:
    from arca.namespace import ONTOLOGY_DIR

    text = (ONTOLOGY_DIR / "policies" / "emergency.ttl").read_text()
    text = text.replace("pol:emergency ", f"pol:{system} ").replace('"emergency"', f'"{system}"')
    return re.sub(r"arca:maxServants \d+", f"arca:maxServants {max(15, 2 * servants)}", text)


def _seed(kb: Any, systems: list[str], servants: int) -> None:
    from arca.decider.anticipator import LearnedSample
    from arca.decider.policy import policy_graph
    from arca.decider.samples import store_sample

    for system in systems:
        kb.replace_graph(_policy(system, servants), str(policy_graph(system)))
        for elapsed in range(0, 60, 10):  # a prior: a severity-3 incident needs a few more servants
            store_sample(kb, system, LearnedSample(3, float(elapsed), servants + 3,
                                                   sample_id=f"bench-prior-{system}-{elapsed}",
                                                   source="prior"))
    kb.flush()


def _count_events(kb: Any) -> int:
    from arca.kb.messages import graph_of

    rows = kb.query("SELECT (COUNT(?m) AS ?n) WHERE { GRAPH $g { ?m a arca:ExternalEvent } }",
                    g=graph_of("event"))
    return int(rows[0]["n"]) if rows else 0


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    import requests

    while True:
        if proc.poll() is not None:
            raise CliError(f"a service exited ({proc.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise CliError(f"a service did not become ready: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def _superseded(port: int) -> int:
    import requests

    with contextlib.suppress(requests.RequestException):
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("arca_messages_superseded_total{")))
    return -1


class Watcher:
    """Decision arrival times by correlation id (the bench's own consumer)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()

    def on_message(self, message: Any) -> None:
        with self.cond:
            self.arrived.setdefault(message.correlation_id, time.perf_counter())
            self.cond.notify_all()

    def wait(self, keys: list[str], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: all(k in self.arrived for k in keys), timeout)


def bench_loop(url: str, systems_n: int, servants: int, events: int, burst: int, rate: float,
               sparql_base: str | None, logs: str | None = None, store: str = "oxigraph") -> dict[str, Any]:
    from arca.bus.rabbitmq import RabbitBus
    from arca.clock import SystemClock
    from arca.config import BusSettings
    from arca.kb.sparql import SparqlKnowledgeBase
    from arca.messages import ExternalEvent, Observation, TopologyChange

    token = uuid.uuid4().hex[:8]
    bus = BusSettings(kind="rabbitmq", url=url, exchange=f"bench-{token}",
                      dead_letter_exchange=f"bench-dlx-{token}", dead_letter_queue=f"bench-dlq-{token}",
                      queue_prefix=f"bench-{token}.")
    systems = [f"bench-{i}" for i in range(systems_n)]
    clock = SystemClock()
    with bench_store(store, sparql_base) as (kb_settings, store_label), \
            tempfile.TemporaryDirectory(prefix="arca-bench-") as scratch:
        tmp = logs or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        kb = SparqlKnowledgeBase(kb_settings)
        _seed(kb, systems, servants)
        env = {**os.environ, "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": url,
               "ARCA_BUS__EXCHANGE": bus.exchange, "ARCA_BUS__DEAD_LETTER_EXCHANGE": bus.dead_letter_exchange,
               "ARCA_BUS__DEAD_LETTER_QUEUE": bus.dead_letter_queue,
               "ARCA_BUS__QUEUE_PREFIX": bus.queue_prefix,
               **kb_env(kb_settings), "ARCA_OPS__LOG_JSON": "true", "ARCA_OPS__LOG_LEVEL": "INFO"}
        env.pop("ARCA_CONFIG_FILE", None)
        procs: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
        feeder = RabbitBus(bus, service="collector")
        watcher_bus = RabbitBus(bus, service="bench")
        watcher = Watcher()
        stop = threading.Event()
        try:
            for name in ("analyzer", "decider"):
                port, log = free_port(), Path(tmp) / f"{name}.jsonl"
                with log.open("ab") as sink:
                    procs[name] = (subprocess.Popen(
                        [sys.executable, "-m", "arca.app.cli.main", "run", name],
                        env={**env, "ARCA_OPS__METRICS_PORT": str(port)}, stdout=subprocess.DEVNULL,
                        stderr=sink), port, log)
            for proc, port, log in procs.values():
                _wait_ready(port, proc, log, time.monotonic() + 90)
            watch_queue = f"{bus.queue_prefix}watch"
            watcher_bus.subscribe(watch_queue, ["decision.#"], watcher.on_message)
            watcher_bus.start()
            feeder.start()
            now = clock.now()
            servers = {s: [f"{s}-vm-{k}" for k in range(servants)] for s in systems}
            for system, ids in servers.items():
                for sid in ids:
                    feeder.publish(TopologyChange(event_time=now, producer="collector", system=system,
                                                  server_id=sid, state="active"))
            feeder.flush(120)

            def telemetry() -> None:  # one cpu_util per servant per round, spread over the round
                all_ids = [(s, sid) for s, ids in servers.items() for sid in ids]
                while not stop.is_set():
                    start = time.monotonic()
                    for i, (system, sid) in enumerate(all_ids):
                        if stop.is_set():
                            return
                        feeder.publish(Observation(event_time=clock.now(), producer="collector",
                                                   system=system, metric="cpu_util", value=0.6,
                                                   unit="ratio", resource=sid))
                        due = start + GNOCCHI_ROUND_S * (i + 1) / len(all_ids)
                        if due > time.monotonic():
                            stop.wait(due - time.monotonic())
                    stop.wait(max(0.0, start + GNOCCHI_ROUND_S - time.monotonic()))

            poller = threading.Thread(target=telemetry, name="bench-telemetry", daemon=True)
            poller.start()
            time.sleep(2.0)  # the first telemetry and situations flow

            def event(i: int, phase: str) -> ExternalEvent:
                t = clock.now()
                return ExternalEvent(event_time=t, producer="collector", event_id=f"{phase}-{token}-{i}",
                                     source="bench-detector", onset=t, payload_kind="bigdata",
                                     severity=1 + i % 4, system=systems[i % len(systems)])

            samples: list[float] = []
            for i in range(events + 5):  # the first five warm up the connections and the models
                e = event(i, "latency")
                start = time.perf_counter()
                feeder.publish(e)
                if not watcher.wait([e.correlation_id], 30):
                    raise CliError(f"no decision for event {i} within 30 s")
                if i >= 5:
                    samples.append((watcher.arrived[e.correlation_id] - start) * 1000)
                time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - start)))
            # throughput: a burst; the decision on each system's last event closes it
            burst_events = [event(i, "burst") for i in range(burst)]
            last = {e.system: e.correlation_id for e in burst_events}
            start = time.perf_counter()
            for e in burst_events:
                feeder.publish(e)
            feeder.flush(120)
            confirmed_s = time.perf_counter() - start
            if not watcher.wait(list(last.values()), 300):
                raise CliError("the burst's last decisions did not all arrive within 300 s")
            burst_s = max(watcher.arrived[k] for k in last.values()) - start
            own = sum(1 for e in burst_events if e.correlation_id in watcher.arrived)
            stop.set()
            poller.join(15)
            superseded = _superseded(procs["decider"][1])
            want = events + 5 + burst
            waited = time.monotonic()  # the writers apply the store writes kept on the broker
            recorded = _count_events(kb)
            while recorded < want and time.monotonic() < waited + 300:
                time.sleep(0.5)
                recorded = _count_events(kb)
            store_lag_s = time.monotonic() - waited
        finally:
            stop.set()
            for proc, _, _ in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc, _, _ in procs.values():
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            feeder.stop()
            watcher_bus.stop()
            kb.close()
            _cleanup(url, bus)
        reference = raw_pika_chain(url, events, burst, rate, samples_payload(token))
    return {
        "systems": systems_n,
        "servants": servants,
        "events": events,
        "events_per_s": round(burst / burst_s),
        "event_to_decision_ms": percentiles(samples),
        "burst": {"events": burst, "confirmed_s": round(confirmed_s, 3), "decided_s": round(burst_s, 3),
                  "events_with_their_own_decision": own, "situations_superseded": superseded,
                  "events_recorded_in_store": recorded, "events_published": want,
                  "store_caught_up_s_after_the_last_decision": round(store_lag_s, 1),
                  "lossless": recorded == want},
        "telemetry_per_s": round(systems_n * servants / GNOCCHI_ROUND_S, 1),
        "store": store_label,
        "reference": reference,
        "path": "bench (as collector) -> RabbitMQ -> arca run analyzer -> RabbitMQ -> arca run decider "
                "-> RabbitMQ -> bench watcher; knowledge-base writes through the broker to the SPARQL server",
    }


def samples_payload(token: str) -> bytes:
    """An event's wire form: the reference chain carries the same bytes."""
    from arca.messages import ExternalEvent, encode

    t = datetime.now(UTC) - timedelta(seconds=1)
    return encode(ExternalEvent(event_time=t, producer="collector", event_id=f"ref-{token}", source="bench",
                                onset=t, payload_kind="bigdata", severity=3, system="bench-0"))


def _cleanup(url: str, bus: Any) -> None:
    """Delete what a bench run declared on the broker ``url`` (the first node of a list): its services'
    queues, their single, shard queues and shard exchanges (``bus.shards``), the store writers' queues, the
    watcher's, the dead-letter queue and both exchanges; a broker the run did not start is left as
    it was found."""
    import pika

    from arca.bus.rabbit_shards import sharded_topology
    from arca.kb.durable import writer_queue

    conn = pika.BlockingConnection(pika.URLParameters(url.split(",")[0]))
    try:
        ch = conn.channel()
        services = ("collector", "analyzer", "decider", "enforcer", "bench")
        queues = [f"{bus.queue_prefix}{s}" for s in services]
        sharded = [sharded_topology(q, bus.shards) for q in queues]
        for name in [*queues, f"{bus.queue_prefix}watch", *(writer_queue(bus, s) for s in services),
                     *(name for names, _ in sharded for name in names)]:
            ch.queue_delete(name)
        for name in (name for _, names in sharded for name in names):
            ch.exchange_delete(name)
        ch.queue_delete(bus.dead_letter_queue)
        ch.exchange_delete(bus.exchange)
        ch.exchange_delete(bus.dead_letter_exchange)
    finally:
        conn.close()


class _Hop:
    """One raw pika hop on its own connection and I/O thread: consumes ``src`` (if any) and forwards
    to ``dst`` (if any) with publisher confirms, acking a delivery once its forward is confirmed;
    the last hop records arrival times."""

    def __init__(self, params: Any, src: str | None, dst: str | None,
                 arrived: dict[str, float] | None = None, cond: threading.Condition | None = None) -> None:
        import pika

        self.src, self.dst, self.arrived, self.cond = src, dst, arrived, cond
        self.ready = threading.Event()
        self.seq = 0
        self.pending: dict[int, int] = {}  # publish seq -> delivery tag to ack once confirmed
        self.conn = pika.SelectConnection(params, on_open_callback=lambda c: c.channel(
            on_open_callback=self._channel))
        self.thread = threading.Thread(target=self.conn.ioloop.start, daemon=True)
        self.thread.start()

    def _channel(self, ch: Any) -> None:
        self.ch = ch
        ch.basic_qos(prefetch_count=100)
        if self.dst is not None:
            ch.confirm_delivery(self._confirmed)
        if self.src is not None:
            ch.basic_consume(self.src, self._message)
        self.ready.set()

    def _message(self, ch: Any, method: Any, props: Any, body: bytes) -> None:
        if self.dst is None:
            assert self.arrived is not None and self.cond is not None
            with self.cond:
                self.arrived[props.message_id] = time.perf_counter()
                self.cond.notify_all()
            ch.basic_ack(method.delivery_tag)
            return
        ch.basic_publish("", self.dst, body, props)
        self.seq += 1
        self.pending[self.seq] = method.delivery_tag

    def _confirmed(self, frame: Any) -> None:
        tag, multiple = frame.method.delivery_tag, frame.method.multiple
        done = [s for s in self.pending if s <= tag] if multiple else [tag]
        deliveries = [self.pending.pop(s) for s in done if s in self.pending]
        if self.src is None or not deliveries:
            return
        if not self.pending or min(self.pending) > max(done):
            self.ch.basic_ack(max(deliveries), multiple=True)
        else:
            for d in deliveries:
                self.ch.basic_ack(d)

    def send(self, body: bytes, props: Any) -> None:
        def go() -> None:
            self.ch.basic_publish("", self.dst, body, props)
            self.seq += 1
        self.conn.ioloop.add_callback_threadsafe(go)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.ioloop.add_callback_threadsafe(self.conn.close)
        self.thread.join(10)


def raw_pika_chain(url: str, events: int, burst: int, rate: float, payload: bytes) -> dict[str, Any]:
    """The same latency and burst through three hops of raw pika: publisher -> relay -> relay ->
    watcher on quorum queues, publisher confirms on every hop, each relay acking a delivery once
    its forward is confirmed (asynchronous confirms, as the bus does)."""
    import pika

    params = pika.URLParameters(url)
    token = uuid.uuid4().hex[:8]
    queues = [f"ref-{token}.{k}" for k in range(3)]
    setup = pika.BlockingConnection(params)
    ch = setup.channel()
    for q in queues:
        ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    arrived: dict[str, float] = {}
    cond = threading.Condition()
    hops = [_Hop(params, None, queues[0]), _Hop(params, queues[0], queues[1]),
            _Hop(params, queues[1], queues[2]), _Hop(params, queues[2], None, arrived, cond)]
    for hop in hops:
        if not hop.ready.wait(30):
            raise CliError("the raw pika reference chain did not connect")
    origin = hops[0]

    def send(mid: str) -> None:
        origin.send(payload, pika.BasicProperties(message_id=mid, delivery_mode=pika.DeliveryMode.Persistent,
                                                  content_type="application/n-triples"))

    try:
        samples = []
        for i in range(events + 5):
            mid = f"lat-{i}"
            start = time.perf_counter()
            send(mid)
            with cond:
                if not cond.wait_for(lambda mid=mid: mid in arrived, 30):  # type: ignore[misc]
                    raise CliError("the raw pika reference chain lost a message")
            if i >= 5:
                samples.append((arrived[mid] - start) * 1000)
            time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - start)))
        ids = [f"burst-{i}" for i in range(burst)]
        start = time.perf_counter()
        for mid in ids:
            send(mid)
        with cond:
            if not cond.wait_for(lambda: all(m in arrived for m in ids), 300):
                raise CliError("the raw pika reference chain lost part of the burst")
        burst_s = max(arrived[m] for m in ids) - start
    finally:
        for hop in hops:
            hop.close()
        for q in queues:
            ch.queue_delete(q)
        setup.close()
    return {"raw_pika_3_hops_event_to_decision_ms": percentiles(samples),
            "raw_pika_3_hops_events_per_s": round(burst / burst_s),
            "what": "publisher -> relay -> relay -> watcher on quorum queues, publisher confirms on every "
                    "hop, each relay acks a delivery once its forward is confirmed, same payload and pacing"}
