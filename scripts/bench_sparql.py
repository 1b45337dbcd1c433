"""Latency of ARCA's SPARQL client against a local Oxigraph server, beside same-run references.

    .venv/bin/python scripts/bench_sparql.py [--n 2000] [--batch 500]

Starts ``oxigraph serve`` on a free loopback port (an empty store in a temporary directory), loads
200 sample triples, then times, interleaved round by round so that load on the machine hits every
contender alike:

* ``arca`` — ``SparqlKnowledgeBase.query`` / ``ask`` / ``update`` (whatever the tree's client is);
* ``requests`` — a keep-alive ``requests.Session`` POSTing the same texts (the pre-SPARQLWrapper
  client's transport);
* ``sparqlwrapper`` — a bare ``SPARQLWrapper`` call (one new connection per request).

and one batched write (``--batch`` updates joined into one request, as the durable writer sends them).
Prints p50 / p95 in milliseconds per operation and contender.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arca.app.cli.stores import free_port  # noqa: E402
from arca.app.settings import KbSettings  # noqa: E402
from arca.kb.base import with_prefixes  # noqa: E402
from arca.kb.sparql import SparqlKnowledgeBase  # noqa: E402
from arca.kb.terms import IRI, render  # noqa: E402

SELECT = "SELECT ?s ?v WHERE { ?s arca:n ?v } ORDER BY ?v LIMIT 20"
ASK = "ASK { ?s arca:n 7 }"
UPDATE = "INSERT DATA { $s arca:m $i }"


def _start(location: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = Path(sys.executable).parent / "oxigraph"
    port = free_port()
    proc = subprocess.Popen([str(binary), "serve", "--location", location, "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base + "/query", params={"query": "ASK {}"}, timeout=1)
            return proc, base
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("oxigraph did not start") from None
            time.sleep(0.1)


def _ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples) * 1e3:6.3f} ms  p95 {q[18] * 1e3:6.3f} ms"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2000, help="Requests per operation and contender.")
    p.add_argument("--batch", type=int, default=500, help="Updates in the batched write.")
    args = p.parse_args()
    from SPARQLWrapper import JSON, POST, POSTDIRECTLY, SPARQLWrapper

    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _start(tmp)
        try:
            kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=base + "/query",
                                                update_url=base + "/update", store_url=base + "/store"))
            for i in range(200):
                kb.update("INSERT DATA { $s arca:n $i }", s=IRI(f"urn:n:{i}"), i=i)
            session = requests.Session()
            session.trust_env = False
            counter = iter(range(10**9))

            def ref_select() -> None:
                r = session.post(base + "/query", data={"query": with_prefixes(SELECT)},
                                 headers={"Accept": "application/sparql-results+json"}, timeout=10)
                r.raise_for_status()
                r.json()

            def ref_update() -> None:
                text = render(UPDATE, {"s": IRI(f"urn:m:{next(counter)}"), "i": 1})
                r = session.post(base + "/update", data=with_prefixes(text).encode(),
                                 headers={"Content-Type": "application/sparql-update; charset=utf-8"},
                                 timeout=10)
                r.raise_for_status()

            def sw_select() -> None:
                sw = SPARQLWrapper(base + "/query")
                sw.setMethod(POST)
                sw.setOnlyConneg(True)
                sw.setReturnFormat(JSON)
                sw.setQuery(with_prefixes(SELECT))
                sw.queryAndConvert()

            def sw_update() -> None:
                sw = SPARQLWrapper(base + "/query", updateEndpoint=base + "/update")
                sw.setMethod(POST)
                sw.setRequestMethod(POSTDIRECTLY)
                sw.setQuery(with_prefixes(render(UPDATE, {"s": IRI(f"urn:m:{next(counter)}"), "i": 1})))
                sw.query().response.read()

            contenders: dict[str, dict[str, Callable[[], object]]] = {
                "arca": {"select": lambda: kb.query(SELECT), "ask": lambda: kb.ask(ASK),
                         "update": lambda: kb.update(UPDATE, s=IRI(f"urn:m:{next(counter)}"), i=1)},
                "requests": {"select": ref_select, "update": ref_update},
                "sparqlwrapper": {"select": sw_select, "update": sw_update},
            }
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(20):  # warm-up
                for ops in contenders.values():
                    for fn in ops.values():
                        fn()
            for _ in range(args.n):
                for who, ops in contenders.items():
                    for op, fn in ops.items():
                        t0 = time.perf_counter()
                        fn()
                        times.setdefault((op, who), []).append(time.perf_counter() - t0)
            batch = " ;\n".join(render(UPDATE, {"s": IRI(f"urn:b:{i}"), "i": i}) for i in range(args.batch))
            batch_times = []
            for _ in range(20):
                t0 = time.perf_counter()
                kb._update_text(batch)
                batch_times.append(time.perf_counter() - t0)
            print(f"Oxigraph at {base}, {args.n} requests per operation and contender, interleaved")
            for (op, who), samples in sorted(times.items()):
                print(f"  {op:6s} {who:14s} {_ms(samples)}")
            print(f"  batch of {args.batch} updates (arca): {_ms(batch_times)}")
            kb.close()
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
