"""``arca bench``: measure what the loop's plumbing costs, print one JSON report.

* codec: encode/decode of one message with our pyoxigraph N-Triples codec, versus rdflib
  serialising/parsing the same graph as Turtle and as N-Triples;
* bus throughput: N observations published (asynchronous confirms) and consumed (manual acks)
  through the real RabbitMQ broker, none lost;
* round-trip latency: publish -> consume -> publish -> consume through RabbitMQ, p50/p99, with a
  knowledge-base write per hop (buffered ``store_message``, as the services do) on the SPARQL
  server given by ``--sparql-base`` (Oxigraph ``/query|update|store``) or the embedded store.

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
from typing import Any

from arca.cli.main import CliError, settings

SAMPLE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="Measure codec cost, bus throughput and loop latency (JSON report).")
    p.add_argument("--messages", type=int, default=5000, help="Messages for the throughput run.")
    p.add_argument("--round-trips", type=int, default=300, help="Round trips for the latency run.")
    p.add_argument("--rabbit-url", help="AMQP URL (default: ARCA_BUS__URL / settings).")
    p.add_argument("--sparql-base", help="Base URL of an Oxigraph-style SPARQL server for the "
                   "latency run's store writes (…/query, …/update, …/store).")
    p.add_argument("--no-bus", action="store_true", help="Only the codec measurements.")
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
    from arca.settings import BusSettings

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
        start = time.perf_counter()
        for m in msgs:
            publisher.publish(m)
        publisher.flush(60)
        confirmed = time.perf_counter() - start
        done.wait(max(10.0, n / 500))
        consumed = time.perf_counter() - start
    finally:
        publisher.stop()
        consumer.stop()
        _cleanup(url, token, [queue])
    lost = len({m.message_id for m in msgs} - got)
    return {
        "messages": n,
        "published_confirmed_per_s": round(n / confirmed),
        "end_to_end_per_s": round(n / consumed),
        "seconds": round(consumed, 3),
        "consumed": len(got),
        "lost": lost,
    }


def bench_latency(url: str, rounds: int, sparql_base: str | None) -> dict[str, Any]:
    from arca.bus.rabbitmq import RabbitBus
    from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
    from arca.kb.messages import store_message
    from arca.messages import Message, Observation, Situation
    from arca.settings import KbSettings

    def make_kb() -> KnowledgeBase:
        if sparql_base:
            from arca.kb.sparql import SparqlKnowledgeBase

            base = sparql_base.rstrip("/")
            return SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=base + "/query",
                                                  update_url=base + "/update", store_url=base + "/store"))
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
        "store": sparql_base or "embedded",
        "store_writes": "one buffered store_message per hop (flushed by the background writer)",
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "max_ms": round(samples[-1], 2),
    }


def cmd_bench(args: argparse.Namespace) -> int:
    if args.messages < 1 or args.round_trips < 1:
        raise CliError("--messages and --round-trips must be at least 1")
    report: dict[str, Any] = {"codec": bench_codec()}
    if not args.no_bus:
        import pika.exceptions

        from arca.bus.rabbitmq import BusError
        from arca.kb import KnowledgeBaseError

        url = args.rabbit_url or settings().bus.url
        try:
            report["bus_throughput"] = bench_throughput(url, args.messages)
            report["round_trip_latency"] = bench_latency(url, args.round_trips, args.sparql_base)
        except (OSError, BusError, KnowledgeBaseError, pika.exceptions.AMQPError) as exc:
            raise CliError(f"cannot reach the broker or store: {exc}") from exc
    print(json.dumps(report, indent=2))
    return 0
