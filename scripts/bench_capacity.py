"""Per-replica capacity of the decider and the enforcer at 1, 2 and 4 replicas on a three-node cluster
(issue 24, item 7): the figures docs/scale.md's capacity model is built from.

    python scripts/bench_capacity.py [--replicas 1,2,4] [--systems 400] [--rounds 5] [-o FILE]

What runs: three RabbitMQ nodes of the run's own joined into one cluster (``tests/clusterkit.py``, as
the cluster tests start them; ``--rabbit-url`` uses a running broker instead), an Oxigraph server, the
testbed's emulated OpenStack (for the enforcer), and R real ``arca run decider`` or ``arca run
enforcer`` processes with ``bus.shards`` = 8, ``bus.replicas`` = R and their own ``replica_index``,
each with the three nodes in its ``bus.url`` (rotated, so replicas start on different nodes). The
bench plays the services around them:

* **decider** — S systems with the reference system's policy. A warm-up round sends one telemetry
  situation per system (each replica loads the policies and state of its systems: a take-over's cost,
  not the steady state's), then an idle period measures what the replicas' CPU costs per known
  system per second (the decider's 1 s tick re-decides every system it knows), then ``--rounds``
  rounds of one situation per system, each round published at once and waited for: the situations
  handled per second and the CPU per situation (the idle rate taken off). A system appears once per
  round, so nothing folds: every situation is decided.
* **enforcer** — S systems, a warm-up round of decisions for 1 servant each (the enforcers create one
  server per system in the testbed), then the idle period (the resync re-reads every system every
  10 s), then rounds of the same decisions: each a reconcile against the cloud that finds nothing to
  change, the common case of a steady loop.

CPU is read from ``/proc`` for every replica (all threads); the broker nodes' and the testbed's CPU
are reported beside it (they share this machine's cores). ``--double`` adds a check run with twice
the systems at 2 replicas, and compares its figures with what the 1-replica figures predict.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from arca.app.cli.bench_loop import _cleanup, _policy, _wait_ready  # noqa: E402
from arca.app.cli.main import CliError  # noqa: E402
from arca.app.cli.stores import free_port, kb_env, make_server  # noqa: E402
from arca.bus.rabbitmq import RabbitBus  # noqa: E402
from arca.config import BusSettings, KbSettings  # noqa: E402
from arca.decider.policy import policy_graph  # noqa: E402
from arca.kb.sparql import SparqlKnowledgeBase  # noqa: E402
from arca.messages import Decision, Message, Observation, Situation, TopologyChange  # noqa: E402

SHARDS = 8
CLAIM_DELAY_S = 10.0
"""Replicas subscribe to the others' shards this long after their own: long enough for R processes
started together on a loaded 2-core machine to each claim their own first (SAC never rebalances)."""
SETTLE_S = 2.0
POLL_S = 0.1
QUIET_S = 12.0
"""An enforcer is steady when nothing was reported for longer than its resync period (10 s)."""
KINDS = {"analyzer": "observation", "decider": "situation", "enforcer": "decision"}
OUTPUTS = {"analyzer": "situation", "decider": "decision", "enforcer": "enforcement"}
FEEDS = {"analyzer": "collector", "decider": "analyzer", "enforcer": "decider"}


def handled(port: int, service: str, kind: str) -> int:
    """Messages of ``kind`` the process on metrics ``port`` handled (its handler-duration count)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    want = f'arca_handler_duration_seconds_count{{kind="{kind}",service="{service}"}}'
    for line in text.splitlines():
        if line.startswith(want):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def published(port: int, service: str, kind: str) -> int:
    """Messages of ``kind`` the process on metrics ``port`` published."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    want = f'arca_messages_published_total{{kind="{kind}",service="{service}"}}'
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(want))


def cpu_s(procs: list[psutil.Process], children: bool = True) -> float:
    """User + system CPU seconds of ``procs`` (and their children) so far."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            for q in [p, *(p.children(recursive=True) if children else [])]:
                t = q.cpu_times()
                total += t.user + t.system
    return total


def cloud_calls(cloud: Any) -> dict[str, int]:
    """Requests the emulated cloud served so far, by API (none without a cloud)."""
    if cloud is None:
        return {}
    served = cloud.cloud.requests_served
    return {api: int(n) for api, n in served.items() if api in ("compute", "load-balancer")}


def broker_procs() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "beam.smp"]


class Counter:
    """Counts the messages the bench's own queue receives."""

    def __init__(self) -> None:
        self.n = 0
        self.cond = threading.Condition()

    def on_message(self, _message: Message) -> None:
        with self.cond:
            self.n += 1
            self.cond.notify_all()

    def wait_for(self, total: int, timeout: float) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.n >= total, timeout)


class Replicas:
    """R processes of one service, sharded, each with its own metrics port and log."""

    def __init__(self, service: str, r: int, env: dict[str, str], urls: list[str], logs: Path) -> None:
        self.service = service
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.logs: list[Path] = []
        for i in range(r):
            port = free_port()
            rotated = ",".join(urls[i % len(urls):] + urls[:i % len(urls)])
            log = logs / f"{service}-{r}-{i}.jsonl"
            with log.open("ab") as sink:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "arca.app.cli.main", "run", service],
                    env={**env, "ARCA_BUS__URL": rotated, "ARCA_BUS__REPLICAS": str(r),
                         "ARCA_BUS__REPLICA_INDEX": str(i), "ARCA_OPS__METRICS_PORT": str(port)},
                    stdout=subprocess.DEVNULL, stderr=sink, cwd=REPO))
            self.ports.append(port)
            self.logs.append(log)
        self.ps = [psutil.Process(p.pid) for p in self.procs]
        self.watcher: Counter | None = None

    def wait_ready(self, timeout: float = 120) -> None:
        """Every replica answers ``/readyz`` (``arca bench``'s wait: a replica that exits or stays
        unready ends the run with its log's tail)."""
        deadline = time.monotonic() + timeout
        for proc, port, log in zip(self.procs, self.ports, self.logs, strict=True):
            try:
                _wait_ready(port, proc, log, deadline)
            except CliError as exc:
                raise SystemExit(f"{self.service}: {exc}") from None

    def handled(self) -> list[int]:
        return [handled(port, self.service, KINDS[self.service]) for port in self.ports]

    def count(self) -> int:
        """Messages handled so far: decisions a decider published, counted on the bench's own queue
        (exact, and costs the replicas nothing); otherwise the replicas' handler counts, scraped every
        ``POLL_S`` (the idle phase scrapes at the same rate, so its cost is taken off)."""
        if self.watcher is not None:
            return self.watcher.n
        return sum(self.handled())

    def wait_handled(self, total: int, timeout: float = 600) -> float:
        """Wait until the replicas together handled ``total``; the time it took (s)."""
        start = time.monotonic()
        while self.count() < total:
            if time.monotonic() - start > timeout:
                raise SystemExit(f"{self.service}: {self.count()} of {total} handled after {timeout} s")
            if self.watcher is not None:
                self.watcher.wait_for(total, min(1.0, timeout))
            else:
                time.sleep(POLL_S)
        return time.monotonic() - start

    def idle(self, seconds: float) -> None:
        """Do nothing for ``seconds`` but what a round's waiting does (the scrapes)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.watcher is None:
                self.handled()
            time.sleep(POLL_S if self.watcher is None else 0.5)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def situation(system: str, now: datetime) -> Situation:
    return Situation(event_time=now, producer="analyzer", system=system, servants_active=1,
                     average_load=0.5, trigger="telemetry", load_time=now, load_window_s=10.0,
                     servants_reporting=1)


def decision(system: str, now: datetime, target: int = 1) -> Decision:
    return Decision(event_time=now, producer="decider", system=system, strategy="arca",
                    target_servants=target, reason=f"capacity bench: {target} servants", rule="bench")


def observations(system: str, now: datetime, servants: int) -> list[Observation]:
    return [Observation(event_time=now, producer="collector", system=system, metric="cpu_util", value=0.5,
                        unit="ratio", resource=f"{system}-vm-{k}") for k in range(servants)]


def messages(service: str, system: str, now: datetime, servants: int, target: int = 1) -> list[Message]:
    """What one round sends for ``system``: a situation to a decider, a decision to an enforcer, one
    ``cpu_util`` per servant to an analyzer."""
    if service == "analyzer":
        return list(observations(system, now, servants))
    return [situation(system, now) if service == "decider" else decision(system, now, target)]


def run_one(service: str, r: int, systems_n: int, rounds: int, idle_s: float, url: str,
            logs: Path, servants: int = 1, actions: bool = False) -> dict[str, Any]:
    """One measurement: R replicas of ``service`` with ``systems_n`` systems, on a store of the run's
    own (a decider reads every policy the store holds) and, for an enforcer, a testbed of its own (its
    resync lists the servers the cloud holds)."""
    with contextlib.ExitStack() as stack:
        where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arca-capacity-store-")))
        store = make_server("oxigraph", where).start()
        stack.callback(store.stop)
        cloud = stack.enter_context(testbed()) if service == "enforcer" else None
        store_ps = [psutil.Process(store.popen.pid)] if store.popen is not None else []
        return _run_one(service, r, systems_n, rounds, idle_s, url, store.endpoints.kb_settings(), cloud,
                        logs, servants, store_ps, actions)


def _run_one(service: str, r: int, systems_n: int, rounds: int, idle_s: float, url: str,
             kb_settings: KbSettings, cloud: Any, logs: Path, servants: int,
             store_ps: list[psutil.Process], actions: bool = False) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    bus = BusSettings(kind="rabbitmq", url=url, exchange=f"cap-{token}",
                      dead_letter_exchange=f"cap-{token}.dlx", dead_letter_queue=f"cap-{token}.dlq",
                      queue_prefix=f"cap-{token}.", shards=SHARDS, dead_letter_quorum=True)
    systems = [f"cap-{token}-{i}" for i in range(systems_n)]
    kb = SparqlKnowledgeBase(kb_settings)
    for system in systems:
        kb.replace_graph(_policy(system, 1), str(policy_graph(system)))
    kb.flush()
    env = {**os.environ, "PYTHONPATH": str(REPO), "ARCA_BUS__KIND": "rabbitmq",
           "ARCA_BUS__EXCHANGE": bus.exchange, "ARCA_BUS__DEAD_LETTER_EXCHANGE": bus.dead_letter_exchange,
           "ARCA_BUS__DEAD_LETTER_QUEUE": bus.dead_letter_queue, "ARCA_BUS__QUEUE_PREFIX": bus.queue_prefix,
           "ARCA_BUS__SHARDS": str(SHARDS), "ARCA_BUS__DEAD_LETTER_QUORUM": "true",
           "ARCA_BUS__SHARD_CLAIM_DELAY_S": str(CLAIM_DELAY_S),
           **kb_env(kb_settings), "ARCA_OPS__LOG_JSON": "true", "ARCA_OPS__LOG_LEVEL": "WARNING",
           "ARCA_OPS__METRICS_HOST": "127.0.0.1",
           # a tick republishes an unchanged decision after this long: not within a run (the bench counts
           # the decisions taken on its situations; the tick's re-decisions still cost what they cost)
           "ARCA_DECIDER__REPUBLISH_S": "3600"}
    if cloud is not None:
        env.update({"ARCA_ENFORCER__DRIVER": "openstack", "ARCA_ENFORCER__REGION_NAME": "RegionOne",
                    **{f"ARCA_ENFORCER__{k.upper()}": v for k, v in cloud.auth().items()}})
    env.pop("ARCA_CONFIG_FILE", None)
    replicas = Replicas(service, r, env, url.split(","), logs)
    feeder = RabbitBus(bus, service=FEEDS[service])
    watch_bus = None
    if service == "decider":  # the decisions, counted as they arrive
        replicas.watcher = Counter()
        watch_bus = RabbitBus(bus, service="bench")
        watch_bus.subscribe(f"{bus.queue_prefix}watch", ["decision.#"], replicas.watcher.on_message)
        watch_bus.start()
    per_round = servants * systems_n if service == "analyzer" else systems_n
    try:
        replicas.wait_ready()
        time.sleep(CLAIM_DELAY_S + 2.0)  # every replica claimed its own shards and stands by for the rest
        feeder.start()
        if service == "analyzer":  # the servants, as Nova's notifications announce them
            now = datetime.now(UTC)
            for system in systems:
                for k in range(servants):
                    feeder.publish(TopologyChange(event_time=now, producer="collector", system=system,
                                                  server_id=f"{system}-vm-{k}", state="active"))
            feeder.flush(120)

        def publish_round(target: int = 1) -> None:
            now = datetime.now(UTC)
            for system in systems:
                for m in messages(service, system, now, servants, target):
                    feeder.publish(m)
            feeder.flush(120)

        def quiet(least: int, quiet_s: float) -> None:
            """Until the enforcers published ``least`` enforcements and then nothing for ``quiet_s``."""
            deadline, last, since = time.monotonic() + 300, -1, time.monotonic()
            while time.monotonic() < deadline:
                now_n = sum(published(port, service, "enforcement") for port in replicas.ports)
                if now_n != last:
                    last, since = now_n, time.monotonic()
                elif time.monotonic() - since >= quiet_s and now_n >= least:
                    return
                time.sleep(POLL_S)

        publish_round()  # warm-up: each replica loads its systems' policies and state
        warm_s = replicas.wait_handled(per_round)
        if cloud is not None:  # the servers of the warm-up round boot (ticker at 20x) and join the pools:
            quiet(systems_n, QUIET_S)  # steady: nothing reported for longer than a resync period
        time.sleep(2.0)
        quiet_cpu0, quiet_t0 = cpu_s(replicas.ps), time.monotonic()  # idle, nobody asking anything
        time.sleep(idle_s)
        quiet_per_s = (cpu_s(replicas.ps) - quiet_cpu0) / (time.monotonic() - quiet_t0)
        cpu0, b0, t0, c0 = cpu_s(replicas.ps), cpu_s(broker_procs()), time.monotonic(), cloud_calls(cloud)
        replicas.idle(idle_s)  # idle, scraped as during the rounds: the rate taken off the rounds' CPU
        idle_wall = time.monotonic() - t0
        idle_calls = {api: n - c0.get(api, 0) for api, n in cloud_calls(cloud).items()}
        idle_cpu_per_s = (cpu_s(replicas.ps) - cpu0) / (time.monotonic() - t0)
        broker_idle_per_s = (cpu_s(broker_procs()) - b0) / (time.monotonic() - t0)
        measured: list[dict[str, Any]] = []
        me = [psutil.Process()]
        out_kind = OUTPUTS[service]
        out0 = sum(published(port, service, out_kind) for port in replicas.ports)
        phase = (cpu_s(replicas.ps), cpu_s(broker_procs()), cpu_s(store_ps), cpu_s(me, children=False),
                 time.monotonic())
        calls0 = cloud_calls(cloud)
        for k in range(rounds):
            done = replicas.count()
            cpu0, b0, me0 = cpu_s(replicas.ps), cpu_s(broker_procs()), cpu_s(me, children=False)
            reported = sum(published(port, service, "enforcement") for port in replicas.ports)
            t0 = time.monotonic()
            publish_round(2 - k % 2 if actions else 1)  # with actions: one more servant, then one less
            replicas.wait_handled(done + per_round)
            if actions:  # every action finished and reported (one per system at least)
                quiet(reported + systems_n, 1.0)
            wall = time.monotonic() - t0
            used = cpu_s(replicas.ps) - cpu0
            measured.append({"round": k + 1, "wall_s": round(wall, 3),
                              "handled_per_s": round(per_round / wall, 1),
                              "replicas_cpu_s": round(used, 3),
                              "cpu_ms_per_message": round(
                                  1000 * max(0.0, used - idle_cpu_per_s * wall) / per_round, 3),
                              "broker_cpu_s": round(cpu_s(broker_procs()) - b0, 3),
                              "bench_and_testbed_cpu_s": round(cpu_s(me, children=False) - me0, 3)})
        time.sleep(SETTLE_S)  # the ticks after the last round (an analyzer publishes its situations then)
        wall = time.monotonic() - phase[4]
        n_msgs = rounds * per_round
        whole = {"wall_s": round(wall, 2), "messages": n_msgs,
                 "published": sum(published(port, service, out_kind) for port in replicas.ports) - out0,
                 "replicas_cpu_ms_per_message": round(
                     1000 * (cpu_s(replicas.ps) - phase[0] - idle_cpu_per_s * wall) / n_msgs, 3),
                 "broker_cpu_ms_per_message": round(
                     1000 * (cpu_s(broker_procs()) - phase[1] - broker_idle_per_s * wall) / n_msgs, 3),
                 "store_cpu_ms_per_message": round(1000 * (cpu_s(store_ps) - phase[2]) / n_msgs, 3),
                 "cloud_requests_per_message": {api: round((n - calls0.get(api, 0) - idle_calls.get(api, 0)
                                                            * wall / idle_wall) / n_msgs, 3)
                                                for api, n in cloud_calls(cloud).items()},
                 "cloud_requests_per_system_per_s_idle": {api: round(n / idle_wall / systems_n, 4)
                                                          for api, n in idle_calls.items()},
                 "bench_and_testbed_cpu_ms_per_message": round(
                     1000 * (cpu_s(me, children=False) - phase[3]) / n_msgs, 3)}
        rss = [round(p.memory_info().rss / 2**20, 1) for p in replicas.ps]
        share = replicas.handled()
        outputs = sum(published(port, service, out_kind) for port in replicas.ports)
        servers = None if cloud is None else sum(
            1 for s in cloud.model.servants.values() if s.status == "ACTIVE")
    finally:
        feeder.stop()
        if watch_bus is not None:
            watch_bus.stop()
        replicas.stop()
        kb.close()
        _cleanup(url, bus)  # a broker of --rabbit-url keeps none of the run's queues
    rate = statistics.median(x["handled_per_s"] for x in measured)
    return {"service": service, "replicas": r, "systems": systems_n, "servants": servants, "actions": actions,
            "messages_per_round": per_round, "rounds": measured, "measured_phase": whole,
            "warmup_s": round(warm_s, 2),
            "handled_per_s": rate, "per_replica_per_s": round(rate / r, 1),
            "cpu_ms_per_message": statistics.median(x["cpu_ms_per_message"] for x in measured),
            "idle_cpu_cores": round(quiet_per_s, 4),
            "idle_cpu_ms_per_system_per_s": round(1000 * quiet_per_s / systems_n, 4),
            "idle_scraped_cpu_cores": round(idle_cpu_per_s, 4),
            "broker_idle_cpu_cores": round(broker_idle_per_s, 4),
            "broker_cpu_ms_per_message": statistics.median(
                round(1000 * x["broker_cpu_s"] / per_round, 3) for x in measured),
            "handled_by_replica": share, "published": {out_kind: outputs},
            "testbed_servers_active": servers, "rss_mb": rss}


@contextlib.contextmanager
def testbed() -> Iterator[Any]:
    """The emulated cloud, its clock running 20 times faster than the wall clock (a boot takes 0.5 s)."""
    from arca.testbed.model import ModelParams
    from arca.testbed.platform import Testbed
    from arca.testbed.timeline import parse_timeline

    cloud = Testbed(parse_timeline({"duration_s": 86400, "seed": 3, "incidents": [], "failures": []}),
                    ModelParams()).start()
    cloud.start_ticker(speed=20.0)
    try:
        yield cloud
    finally:
        cloud.stop_ticker()
        cloud.stop()


@contextlib.contextmanager
def infrastructure(rabbit_url: str | None) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="arca-capacity-") as tmp:
        cluster = None
        if rabbit_url is None:
            from tests.clusterkit import RabbitCluster

            cluster = RabbitCluster()
            cluster.start()
            rabbit_url = cluster.url
        try:
            yield rabbit_url, Path(tmp)
        finally:
            if cluster is not None:
                cluster.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", default="1,2,4", help="Replica counts, comma-separated.")
    ap.add_argument("--services", default="analyzer,decider,enforcer",
                    help="The analyzer runs one active replica (its standbys take over): measured at 1.")
    ap.add_argument("--systems", type=int, default=1000, help="Systems of the decider's runs.")
    ap.add_argument("--analyzer-systems", type=int, default=100)
    ap.add_argument("--analyzer-servants", type=int, default=10)
    ap.add_argument("--enforcer-systems", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--enforcer-actions", action="store_true",
                    help="Add enforcer runs whose decisions alternate 2 and 1 servants (each one an action).")
    ap.add_argument("--double", action="store_true", help="Add a run with twice the systems at 2 replicas.")
    ap.add_argument("--rabbit-url", help="A running broker (default: a three-node cluster of the run's own).")
    ap.add_argument("--logs", help="Keep the replicas' JSON logs in this directory.")
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.replicas.split(",")]
    out: dict[str, Any] = {"machine": {"cores": psutil.cpu_count(), "load_before": os.getloadavg()},
                           "shards": SHARDS, "runs": []}
    with infrastructure(args.rabbit_url) as (url, tmp):
        if args.logs:
            tmp = Path(args.logs)
            tmp.mkdir(parents=True, exist_ok=True)
        out["broker"] = f"{len(url.split(','))} node(s)"
        for service in args.services.split(","):
            n = {"analyzer": args.analyzer_systems, "decider": args.systems,
                 "enforcer": args.enforcer_systems}[service]
            plan = [(r, n, False) for r in (counts if service != "analyzer" else [1])]
            if args.double:
                plan.append((plan[-1][0] if service == "analyzer" else 2, 2 * n, False))
            if service == "enforcer" and args.enforcer_actions:
                plan += [(r, n, True) for r in counts]
            for r, systems_n, actions in plan:
                res = run_one(service, r, systems_n, args.rounds, args.idle_s, url, tmp,
                              args.analyzer_servants if service == "analyzer" else 1, actions)
                print(json.dumps({k: v for k, v in res.items() if k != "rounds"}), flush=True)
                out["runs"].append(res)
    out["machine"]["load_after"] = os.getloadavg()
    text = json.dumps(out, indent=2)
    if args.output:
        Path(args.output).write_text(text)
    print(text if not args.output else f"written {args.output}")
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: None  # the feeder's I/O thread ends noisily on stop
    # SIGTERM unwinds like ^C: the replicas, the store, the testbed and the cluster nodes are stopped
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    raise SystemExit(main())
