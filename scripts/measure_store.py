"""Measure the knowledge base's size under a flood and over a long run (issue 25 item 3).

``flood``: the analyzer and the decider in process on the real RabbitMQ broker, a real store server
(Oxigraph or Fuseki TDB2, ``arca.app.cli.stores``) in a fresh directory; N severity-4 events from one
source are published on the bus as the collector publishes them, the services handle them all, then
the store's triples and bytes on disk are printed -- and again after ``compact_all`` (when the code
under test has ``arca.kb.retention``). ``--trust`` applies the shipped ``*`` source trust (or any file).
Runs on older code too (``PYTHONPATH`` pointing at another checkout): what it cannot find it skips.

``flat``: ``arca demo``'s whole loop (collector, analyzer, decider, enforcer on the emulated
OpenStack, simulated time) on a long timeline -- an incident every ``--every`` seconds -- with the
store on the server; every ``--sample`` simulated seconds it prints the triples and bytes on disk.
Retention windows are the settings' (scale them with ``ARCA_KB__RETENTION__<KIND>__MAX_AGE_S``).

    python scripts/measure_store.py flood --events 10000 --trust ontology/policies/source-trust.ttl
    python scripts/measure_store.py flat --hours 4 --store oxigraph
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def disk_bytes(path: Path) -> int:
    """Bytes the directory really occupies (blocks, not apparent sizes: TDB2 preallocates sparse files)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) * 1024


def triples(kb: Any) -> int:
    rows = kb.query("SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    return int(rows[0]["n"])


def incidents(kb: Any) -> int:
    rows = kb.query("SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE { GRAPH ?g { ?i a arca:Incident } }")
    return int(rows[0]["n"])


def per_graph(kb: Any) -> str:
    """Triples of the largest graphs (``arca:graph/`` left out of their names)."""
    rows = kb.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
                    "GROUP BY ?g ORDER BY DESC(?n) LIMIT 6")
    return ", ".join(f"{str(r['g']).rsplit('graph/', 1)[-1]} {int(r['n'])}" for r in rows)


def data_dir(kind: str, directory: Path) -> Path:
    """The store's own files in a server's directory (not its log): Oxigraph's RocksDB, Fuseki's TDB2."""
    return directory / "data" if kind == "oxigraph" else directory / "databases" / "arca"


def report(label: str, kb: Any, data: Path) -> None:
    print(f"{label}: {triples(kb)} triples, {incidents(kb)} incident nodes, "
          f"{disk_bytes(data) / 1e6:.1f} MB on disk ({per_graph(kb)})", flush=True)


def offline_compaction(kind: str, data: Path) -> None:
    """The store's own offline compaction on the stopped store, and the size after: ``oxigraph
    optimize`` (RocksDB flushes its write-ahead log and compacts away what was deleted), or TDB2's
    ``tdb2.tdbcompact --deleteOld`` (docs/ops.md, the Fuseki section)."""
    import os

    from arca.app.cli.stores import fuseki_classpath, oxigraph_binary

    if kind == "oxigraph":
        label, cmd = "oxigraph optimize", [oxigraph_binary(), "optimize", "--location", str(data)]
    else:
        label = "tdb2.tdbcompact --deleteOld"
        cmd = [os.environ.get("ARCA_TEST_JAVA", "java"), "-cp", fuseki_classpath(), "tdb2.tdbcompact",
               "--loc", str(data), "--deleteOld"]
    subprocess.run(cmd, check=True, capture_output=True)
    print(f"after {label}: {disk_bytes(data) / 1e6:.1f} MB on disk", flush=True)


def flood(args: argparse.Namespace) -> int:
    from arca.analyzer.service import AnalyzerService
    from arca.app.cli.stores import make_server
    from arca.app.settings import ArcaSettings, BusSettings
    from arca.bus.rabbitmq import RabbitBus
    from arca.clock import SimClock
    from arca.decider.service import DeciderService
    from arca.kb.sparql import SparqlKnowledgeBase
    from arca.kb.terms import arca_iri
    from arca.messages import ExternalEvent, Observation, TopologyChange
    from arca.policy import policy_graph
    from arca.service import Deps

    server = make_server(args.store, Path(tempfile.mkdtemp(prefix="arca-flood-"))).start()
    tmp = data_dir(args.store, server.directory)
    unique = uuid.uuid4().hex[:8]
    bus_s = BusSettings(kind="rabbitmq", url=args.url, exchange=f"arca-m-{unique}",
                        dead_letter_exchange=f"dlx-m-{unique}", dead_letter_queue=f"dlq-m-{unique}",
                        queue_prefix=f"m-{unique}.")
    kb_s = server.endpoints.kb_settings(write_flush_interval_s=0.05)
    settings = ArcaSettings(bus=bus_s, kb=kb_s)
    admin = SparqlKnowledgeBase(kb_s)
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    clock = SimClock(t0)
    stops: list[Any] = []
    try:
        admin.replace_graph('@prefix arca: <https://w3id.org/arca/ns#> .\n<urn:p:emergency> a arca:Policy ; '
                            'arca:system "emergency" ; arca:maxServants 6 ; arca:expirationSeconds 45 .',
                            policy_graph("emergency"))
        if args.trust:
            admin.replace_graph(Path(args.trust).read_bytes(), arca_iri("graph/trust", "*"))
        report("empty (policy loaded)", admin, tmp)

        def deps(name: str) -> Deps:
            bus = RabbitBus(bus_s, service=name)
            kb = SparqlKnowledgeBase(kb_s)
            stops.extend([bus.stop, kb.close])
            return Deps(bus, kb, clock, settings)

        analyzer = AnalyzerService(deps("analyzer"))
        decider = DeciderService(deps("decider"))
        collector = RabbitBus(bus_s, service="collector")
        stops.append(collector.stop)
        for svc in (analyzer, decider):
            svc.attach()
            svc.bus.start()
        collector.start()
        collector.publish(TopologyChange(event_time=t0, system="emergency", server_id="srv-1",
                                         state="active"))
        collector.publish(Observation(event_time=t0, system="emergency", metric="cpu_util", value=0.3,
                                      resource="srv-1"))
        start = time.monotonic()
        for i in range(args.events):
            collector.publish(ExternalEvent(event_time=t0 + timedelta(milliseconds=i), event_id=f"flood-{i}",
                                            source="seismo-flood", onset=t0, payload_kind="basic", severity=4,
                                            domain="building-2"))
        collector.flush()
        clock.set(t0 + timedelta(milliseconds=args.events))
        stable, last = 0, -1
        while stable < 5:  # every event handled: the store stops growing for 5 s
            time.sleep(1.0)
            n = triples(admin)
            stable, last = (stable + 1, n) if n == last else (0, n)
        analyzer.kb.flush()
        decider.kb.flush()
        print(f"{args.events} events from one source handled in {time.monotonic() - start:.1f} s "
              f"({len(collector.dead_letters())} dead-lettered)", flush=True)
        report("after the flood", admin, tmp)
        try:
            from arca.kb import retention
        except ImportError:
            print("no arca.kb.retention in this code: nothing compacted")
        else:
            gone = retention.compact_all(admin, settings.kb.retention, clock.now() + timedelta(hours=2),
                                         sync=True)
            print(f"compacted 2 h later: {gone}")
            report("after compaction", admin, tmp)
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:  # best effort on the way out
                print(f"stopping: {exc}", file=sys.stderr)
        server.stop()
    print(f"server stopped: {disk_bytes(tmp) / 1e6:.1f} MB on disk", flush=True)
    offline_compaction(args.store, tmp)
    return 0


def flat(args: argparse.Namespace) -> int:
    from arca.app.cli.stores import make_server
    from arca.app.demo.harness import run
    from arca.kb.sparql import SparqlKnowledgeBase
    from arca.testbed.timeline import parse_timeline

    duration = args.hours * 3600
    incidents_ = [{"at_s": float(t), "severity": 1 + (k % 4), "domain": ("building-2", "building-3")[k % 2]}
                  for k, t in enumerate(range(args.every // 2, int(duration) - 60, args.every))]
    timeline = parse_timeline({"duration_s": duration, "seed": 7, "incidents": incidents_, "failures": []})
    server = make_server(args.store, Path(tempfile.mkdtemp(prefix="arca-flat-"))).start()
    tmp = data_dir(args.store, server.directory)
    kb = SparqlKnowledgeBase(server.endpoints.kb_settings())
    probe = SparqlKnowledgeBase(server.endpoints.kb_settings())
    next_at = [0.0]

    def on_step(t: float, _duration: float) -> None:
        if t >= next_at[0]:
            next_at[0] += args.sample
            kb.flush()
            report(f"t={t / 3600:5.2f} h", probe, tmp)

    try:
        result = run("arca", timeline, kb=kb, on_step=on_step)
        kb.flush()
        report("end", probe, tmp)
        print(f"decisions: {len(result.decisions)}")
    finally:
        kb.close()
        probe.close()
        server.stop()
    print(f"server stopped: {disk_bytes(tmp) / 1e6:.1f} MB on disk", flush=True)
    offline_compaction(args.store, tmp)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flood", help="N events from one source; the store's size after.")
    f.add_argument("--events", type=int, default=10000)
    f.add_argument("--trust",
                   help="Source trust Turtle applied first (e.g. ontology/policies/source-trust.ttl).")
    f.add_argument("--store", choices=("oxigraph", "fuseki"), default="oxigraph")
    f.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    f.set_defaults(func=flood)
    g = sub.add_parser("flat", help="A long demo run; the store's size over simulated time.")
    g.add_argument("--hours", type=float, default=4.0)
    g.add_argument("--every", type=int, default=600, help="Seconds between two incidents.")
    g.add_argument("--sample", type=float, default=900.0, help="Simulated seconds between two samples.")
    g.add_argument("--store", choices=("oxigraph", "fuseki"), default="oxigraph")
    g.set_defaults(func=flat)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
