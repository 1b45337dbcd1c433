"""``arca bench``: measure what the loop's plumbing costs, print one JSON report.

* codec: encode/decode of one message with our pyoxigraph N-Triples codec, versus rdflib
  serialising/parsing the same graph as Turtle and as N-Triples;
* bus throughput: N observations published (asynchronous confirms) and consumed (manual acks)
  through the real RabbitMQ broker, none lost;
* round-trip latency: publish -> consume -> publish -> consume through RabbitMQ, p50/p99, with a
  knowledge-base write per hop (buffered ``store_message``, as the services do) on the SPARQL
  server given by ``--sparql-base`` (Oxigraph ``/query|update|store``) or the embedded store;
* event -> decision latency (``--loop``): the real ``AnalyzerService`` and ``DeciderService``, each
  on its own RabbitMQ connection and store client, the emergency policy loaded in the store; a
  detector event is published as the collector would, and the clock stops when the decision with
  the same correlation id is consumed. The design's bar is p99 <= 20 ms on a 2-core machine.

Runs are bounded (a few seconds); the exchange and queues are unique per run and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError, add_output_options, output_options, settings

SAMPLE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="Measure codec cost, bus throughput and loop latency (JSON report).")
    p.add_argument("--messages", type=int, default=5000, help="Messages for the throughput run.")
    p.add_argument("--round-trips", type=int, default=300, help="Round trips for the latency run.")
    p.add_argument("--rabbit-url", help="AMQP URL (default: ARCA_BUS__URL / settings).")
    p.add_argument("--store", choices=("embedded", "oxigraph", "fuseki", "settings"),
                   help="The knowledge base the services write to: 'oxigraph' or 'fuseki' start a server of "
                        "that kind on a free port for the run (Fuseki Main with ops/fuseki/config.ttl), "
                        "'settings' uses the configured one (ARCA_KB__*), 'embedded' an in-process store. "
                        "Default: embedded, and oxigraph with --systems.")
    p.add_argument("--sparql-base", help="Base URL of an Oxigraph-style SPARQL server for the "
                   "latency run's store writes (…/query, …/update, …/store); overrides --store.")
    p.add_argument("--no-bus", action="store_true", help="Only the codec measurements.")
    p.add_argument("--loop", type=int, default=0, metavar="N",
                   help="Also measure detector event -> decision through the real analyzer and "
                        "decider services, N events (0: skip).")
    p.add_argument("--systems", type=int, metavar="N",
                   help="Measure the whole loop instead (arca run analyzer and decider on RabbitMQ and a "
                        "SPARQL server) with N controlled systems, beside raw pika "
                        "(arca.app.cli.bench_loop).")
    p.add_argument("--servants", type=int, default=3, metavar="M", help="Servants per system (--systems).")
    p.add_argument("--events", type=int, default=200, help="Events of the latency run (--systems).")
    p.add_argument("--rate", type=float, default=10.0, help="Events per second of the latency run.")
    p.add_argument("--burst", type=int, default=2000, help="Events of the throughput burst (--systems).")
    add_output_options(p, "the report (printed on stdout in any case)")
    p.add_argument("--logs", metavar="DIR", help="Keep the services' JSON logs in DIR (--systems).")
    p.set_defaults(func=cmd_bench)


def _per_call_us(fn: Callable[[], object], seconds: float = 0.4) -> float:
    """Mean wall time of ``fn`` in µs, over as many calls as fit in ``seconds`` (at least 20)."""
    fn()
    n, start = 0, time.perf_counter()
    while n < 20 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return round((time.perf_counter() - start) / n * 1e6, 1)


def bench_codec() -> dict[str, Any]:
    import rdflib

    from arca.messages import Observation, decode, encode

    msg = Observation(event_time=SAMPLE_TIME, producer="collector", system="emergency",
                      metric="cpu_util", value=0.73, unit="ratio", resource="srv-1", domain="hq")
    nt = encode(msg)
    graph = rdflib.Graph().parse(data=nt, format="nt")
    ttl = graph.serialize(format="turtle").encode()
    nt_rdflib = graph.serialize(format="nt").encode()
    return {
        "triples": len(graph),
        "bytes_ntriples": len(nt),
        "pyoxigraph_ntriples": {"encode_us": _per_call_us(lambda: encode(msg)),
                                "decode_us": _per_call_us(lambda: decode(nt))},
        "rdflib_turtle": {
            "serialize_us": _per_call_us(lambda: graph.serialize(format="turtle")),
            "parse_us": _per_call_us(lambda: rdflib.Graph().parse(data=ttl, format="turtle")),
        },
        "rdflib_ntriples": {
            "serialize_us": _per_call_us(lambda: graph.serialize(format="nt")),
            "parse_us": _per_call_us(lambda: rdflib.Graph().parse(data=nt_rdflib, format="nt")),
        },
    }


def _bus_settings(url: str, token: str) -> Any:
    from arca.app.settings import BusSettings

    return BusSettings(kind="rabbitmq", url=url, exchange=f"bench-{token}",
                       dead_letter_exchange=f"bench-dlx-{token}", dead_letter_queue=f"bench-dlq-{token}",
                       queue_prefix=f"bench-{token}.")


def _cleanup(url: str, token: str, queues: list[str]) -> None:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    for q in [*queues, f"bench-dlq-{token}"]:
        ch.queue_delete(q)
    for x in (f"bench-{token}", f"bench-dlx-{token}"):
        ch.exchange_delete(x)
    conn.close()


def bench_throughput(url: str, n: int) -> dict[str, Any]:
    from arca.bus.rabbitmq import RabbitBus
    from arca.messages import Message, Observation

    token = uuid.uuid4().hex[:8]
    s = _bus_settings(url, token)
    queue = f"bench-{token}.sink"
    got: set[str] = set()
    done = threading.Event()

    def handler(m: Message) -> None:
        got.add(m.message_id)
        if len(got) >= n:
            done.set()

    consumer = RabbitBus(s, service="bench")
    consumer.subscribe(queue, ["observation.#"], handler)
    publisher = RabbitBus(s, service="bench")
    consumer.start()
    publisher.start()
    try:
        msgs = [Observation(event_time=SAMPLE_TIME, system="emergency", metric="cpu_util", value=i / n)
                for i in range(n)]
        cpu = time.process_time()
        start = time.perf_counter()
        for m in msgs:
            publisher.publish(m)
        publisher.flush(60)
        confirmed = time.perf_counter() - start
        done.wait(max(10.0, n / 500))
        consumed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        publisher.stop()
        consumer.stop()
        _cleanup(url, token, [queue])
    lost = len({m.message_id for m in msgs} - got)
    from arca.messages.codec import encode

    reference = raw_pika_throughput(url, [encode(m) for m in msgs])
    cpu_us = cpu / n * 1e6
    return {
        "messages": n,
        "published_confirmed_per_s": round(n / confirmed),
        "end_to_end_per_s": round(n / consumed),
        "seconds": round(consumed, 3),
        "consumed": len(got),
        "lost": lost,
        "cpu_us_per_message": round(cpu_us, 1),
        "reference": reference,
        "vs_reference": {"end_to_end_per_s": round(n / consumed / reference["end_to_end_per_s"], 2),
                         "cpu_us_per_message": round(cpu_us / reference["cpu_us_per_message"], 2)},
    }


def raw_pika_throughput(url: str, bodies: list[bytes]) -> dict[str, Any]:
    """The same bodies through raw pika in this process: one publisher with asynchronous confirms,
    one consumer acking each delivery, a quorum queue; wall time and this process's CPU time (every
    thread: the publisher's and consumer's I/O included, as for the bus above)."""
    import pika

    from arca.app.cli.bench_loop import _Hop

    params = pika.URLParameters(url)
    q = f"ref-{uuid.uuid4().hex[:8]}"
    setup = pika.BlockingConnection(params)
    ch = setup.channel()
    ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    arrived: dict[str, float] = {}
    cond = threading.Condition()
    hops = [_Hop(params, None, q), _Hop(params, q, None, arrived, cond)]
    try:
        for hop in hops:
            if not hop.ready.wait(30):
                raise CliError("the raw pika reference did not connect")
        props = [pika.BasicProperties(message_id=f"m{i}", delivery_mode=pika.DeliveryMode.Persistent,
                                      content_type="application/n-triples") for i in range(len(bodies))]
        cpu = time.process_time()
        start = time.perf_counter()
        for body, prop in zip(bodies, props, strict=True):
            hops[0].send(body, prop)
        with cond:
            ok = cond.wait_for(lambda: len(arrived) >= len(bodies), max(30.0, len(bodies) / 200))
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        for hop in hops:
            hop.close()
        ch.queue_delete(q)
        setup.close()
    return {"what": "raw pika, same bodies: publisher with asynchronous confirms -> quorum queue -> "
                    "consumer acking each delivery, same process",
            "end_to_end_per_s": round(len(bodies) / wall), "lost": len(bodies) - len(arrived),
            "complete": ok, "cpu_us_per_message": round(cpu / len(bodies) * 1e6, 1)}


def bench_latency(url: str, rounds: int, kb_settings: Any = None,
                  store_label: str = "embedded") -> dict[str, Any]:
    from arca.bus.rabbitmq import RabbitBus
    from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
    from arca.kb.messages import store_message
    from arca.messages import Message, Observation, Situation

    def make_kb() -> KnowledgeBase:
        if kb_settings is not None:
            from arca.kb.sparql import SparqlKnowledgeBase

            return SparqlKnowledgeBase(kb_settings)
        return EmbeddedKnowledgeBase()

    token = uuid.uuid4().hex[:8]
    s = _bus_settings(url, token)
    kb_a, kb_b = make_kb(), make_kb()
    echo, origin = RabbitBus(s, service="echo"), RabbitBus(s, service="origin")
    arrived = threading.Event()

    def on_observation(m: Message) -> None:
        store_message(kb_b, m)
        assert isinstance(m, Observation)
        echo.publish(Situation(event_time=m.event_time, **m.follow(), system=m.system, servants_active=1,
                               average_load=m.value))

    def on_situation(m: Message) -> None:
        store_message(kb_a, m)
        arrived.set()

    echo.subscribe(f"bench-{token}.echo", ["observation.#"], on_observation)
    origin.subscribe(f"bench-{token}.origin", ["situation.#"], on_situation)
    echo.start()
    origin.start()
    samples: list[float] = []
    try:
        for i in range(rounds):
            arrived.clear()
            start = time.perf_counter()
            origin.publish(Observation(event_time=SAMPLE_TIME, system="emergency", metric="cpu_util",
                                       value=float(i)))
            if not arrived.wait(10):
                raise CliError(f"round trip {i} did not complete within 10 s")
            samples.append((time.perf_counter() - start) * 1000)
        kb_a.flush()
        kb_b.flush()
    finally:
        origin.stop()
        echo.stop()
        kb_a.close()
        kb_b.close()
        _cleanup(url, token, [f"bench-{token}.echo", f"bench-{token}.origin"])
    samples.sort()
    return {
        "round_trips": rounds,
        "hops": 2,
        "store": store_label,
        "store_writes": "one buffered store_message per hop (flushed by the background writer)",
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
    }


def bench_event_to_decision(url: str, events: int, kb_settings: Any = None,
                            store_label: str = "embedded") -> dict[str, Any]:
    from arca.analyzer.service import AnalyzerService
    from arca.app.settings import ArcaSettings, KbSettings
    from arca.bus.rabbitmq import RabbitBus
    from arca.clock import SystemClock
    from arca.decider.policy import policy_graph
    from arca.decider.service import DeciderService
    from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
    from arca.messages import Decision, ExternalEvent, Message
    from arca.namespace import ONTOLOGY_DIR
    from arca.service import Deps

    token = uuid.uuid4().hex[:8]
    bus_settings = _bus_settings(url, token)
    arca_settings = ArcaSettings(bus=bus_settings, kb=kb_settings or KbSettings())
    shared_embedded = EmbeddedKnowledgeBase()

    def make_kb() -> KnowledgeBase:
        if kb_settings is not None:
            from arca.kb.sparql import SparqlKnowledgeBase

            return SparqlKnowledgeBase(kb_settings)
        return shared_embedded

    clock = SystemClock()
    admin = make_kb()
    admin.replace_graph((ONTOLOGY_DIR / "policies" / "emergency.ttl").read_text(), policy_graph("emergency"))
    admin.flush()
    stoppers: list[Callable[[], None]] = []
    services = []
    for cls, name in ((AnalyzerService, "analyzer"), (DeciderService, "decider")):
        bus, kb = RabbitBus(bus_settings, service=name), make_kb()
        stoppers += [bus.stop, kb.close]
        service = cls(Deps(bus, kb, clock, arca_settings))
        service.attach()
        services.append(service)
    detector = RabbitBus(bus_settings, service="bench")
    stoppers.append(detector.stop)
    arrived: dict[str, float] = {}
    lock = threading.Condition()

    def on_decision(m: Message) -> None:
        if isinstance(m, Decision):
            with lock:
                arrived.setdefault(m.correlation_id, time.perf_counter())
                lock.notify_all()

    watch = f"bench-{token}.watch"
    detector.subscribe(watch, ["decision.#"], on_decision)
    for service in services:
        service.bus.start()
    detector.start()
    samples: list[float] = []
    try:
        for i in range(events + 5):  # the first 5 warm up connections and the SVR
            now = clock.now()
            event = ExternalEvent(event_time=now, producer="collector", event_id=f"bench-{token}-{i}",
                                  source="bench-seismometer", onset=now, payload_kind="bigdata",
                                  severity=1 + i % 4, system="emergency")
            start = time.perf_counter()
            detector.publish(event)
            key = event.correlation_id
            with lock:
                if not lock.wait_for(lambda key=key: key in arrived, timeout=10):  # type: ignore[misc]
                    raise CliError(f"no decision for event {i} within 10 s")
                got = arrived[key]
            if i >= 5:
                samples.append((got - start) * 1000)
            time.sleep(0.01)
    finally:
        for stop in reversed(stoppers):
            stop()
        _cleanup(url, token, [watch, *(s.queue for s in services)])
    samples.sort()
    return {
        "events": events,
        "path": "detector -> RabbitMQ -> analyzer -> RabbitMQ -> decider -> RabbitMQ -> watcher",
        "store": store_label,
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
    }


def cmd_bench(args: argparse.Namespace) -> int:
    if args.messages < 1 or args.round_trips < 1:
        raise CliError("--messages and --round-trips must be at least 1")
    _, out = output_options(args, "bench")
    report = _loop_report(args) if args.systems is not None else _plumbing_report(args)
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        try:
            Path(out).write_text(text + "\n")
        except OSError as exc:
            raise CliError(f"-o {out}: {exc.strerror}") from None
    return 0


def _loop_report(args: argparse.Namespace) -> dict[str, Any]:
    import pika.exceptions

    from arca.app.cli.bench_loop import bench_loop
    from arca.bus.rabbitmq import BusError
    from arca.kb import KnowledgeBaseError

    for name, value, low in (("--systems", args.systems, 1), ("--servants", args.servants, 1),
                             ("--events", args.events, 1), ("--burst", args.burst, 1)):
        if value < low:
            raise CliError(f"{name} must be at least {low}")
    if not args.rate > 0:
        raise CliError("--rate must be positive")
    url = args.rabbit_url or settings().bus.url
    try:
        return bench_loop(url, args.systems, args.servants, args.events, args.burst, args.rate,
                          args.sparql_base, args.logs, store=args.store or "oxigraph")
    except (OSError, BusError, KnowledgeBaseError, pika.exceptions.AMQPError) as exc:
        raise CliError(f"cannot reach the broker or store: {exc}") from exc


def _plumbing_report(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"codec": bench_codec()}
    if not args.no_bus:
        import pika.exceptions

        from arca.app.cli.bench_loop import bench_store
        from arca.bus.rabbitmq import BusError
        from arca.kb import KnowledgeBaseError

        url = args.rabbit_url or settings().bus.url
        try:
            report["bus_throughput"] = bench_throughput(url, args.messages)
            if args.store in (None, "embedded") and not args.sparql_base:
                report["round_trip_latency"] = bench_latency(url, args.round_trips)
                if args.loop > 0:
                    report["event_to_decision"] = bench_event_to_decision(url, args.loop)
            else:
                with bench_store(args.store, args.sparql_base) as (kb_settings, label):
                    report["round_trip_latency"] = bench_latency(url, args.round_trips, kb_settings, label)
                    if args.loop > 0:
                        report["event_to_decision"] = bench_event_to_decision(url, args.loop, kb_settings,
                                                                              label)
        except (OSError, BusError, KnowledgeBaseError, pika.exceptions.AMQPError) as exc:
            raise CliError(f"cannot reach the broker or store: {exc}") from exc
    return report
