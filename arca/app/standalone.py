"""``arca standalone``: the whole live loop on one machine, in one command.

What it starts, in order (and stops, in reverse, on Ctrl-C or SIGTERM):

1. nothing on the bus: it uses the RabbitMQ broker at ``--bus-url`` and refuses to go on without one;
2. a SPARQL store server with its data in ``DATA_DIR/store-<kind>`` (Oxigraph, or Fuseki Main with
   the shipped config; ``arca.app.cli.stores``);
3. the cloud: the testbed's emulated OpenStack and OSM APIs in this process (``--cloud NAME`` uses
   that clouds.yaml entry instead and starts no testbed);
4. the knowledge: ``arca kb init --defaults`` run as a user would run it, with the configuration of
   step 5: the shipped ontology, and on a store that has no policy yet the shipped policies and prior
   samples (``--cold``: no prior);
5. the configuration, as one TOML file (``--config-out``, default ``DATA_DIR/arca.toml``, mode 0600)
   that every ``arca`` command reads through ``ARCA_CONFIG_FILE``: bus, store, collector address and
   the detector tokens, the enforcer's cloud;
6. the four services as separate ``arca run`` processes, each logging to ``DATA_DIR/logs/<name>.log``
   and serving /metrics, /healthz and /readyz on its own port.

A service that exits on its own stops the whole (its log's tail is printed): a half-running loop is
worse than none. The services die with this process even if it is killed (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from arca.app.cli.core import SHIPPED_POLICIES, SHIPPED_PRIORS
from arca.app.cli.stores import StoreServer, StoreUnavailable, free_port, make_server
from arca.app.settings import ArcaSettings
from arca.namespace import ONTOLOGY_DIR

SERVICES = ("collector", "analyzer", "decider", "enforcer")
SYSTEM = "emergency"  # the shipped policy's system
DETECTOR_SOURCES = ("seismo-hq", "seismometer-hq", "seismometer-building-2", "seismometer-building-3",
                    "seismometer-building-4", "bigdata-analyser")
"""Sources given a collector token: the one of the README's examples and the testbed's detectors."""
TESTBED_CLOUD = "arca-testbed"
LBS = ("building-2", "building-3", "building-4")  # the testbed's load balancers (lb-<domain>)


class StandaloneError(RuntimeError):
    """The loop could not be brought up (the message says what is missing)."""


@dataclass
class Options:
    """What the command line chose (``arca standalone --help``)."""

    bus_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    store: str = "oxigraph"
    cloud: str | None = None
    timeline: str | None = None
    speed: float = 1.0
    collector_port: int | None = None
    config_out: Path | None = None
    cold: bool = False
    ready_timeout_s: float = 120.0


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "arca" / "standalone"


def check_broker(url: str) -> None:
    """Connect once to the broker, or say how to get one."""
    import logging

    import pika

    params = pika.URLParameters(url)
    params.connection_attempts, params.socket_timeout, params.blocked_connection_timeout = 1, 3, 3
    quiet = logging.getLogger("pika")
    level, quiet.level = quiet.level, logging.CRITICAL  # the refusal is said once, below, not traced
    try:
        pika.BlockingConnection(params).close()
    except Exception as exc:
        why = str(exc) or "the connection failed"
        raise StandaloneError(
            f"no RabbitMQ broker answers at {_safe(url)} ({type(exc).__name__}: {why}); arca standalone "
            "starts none: start one (Debian: apt install rabbitmq-server) or give --bus-url") from None
    finally:
        quiet.setLevel(level)


def _safe(url: str) -> str:
    """``url`` without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def tokens_file(data_dir: Path) -> dict[str, str]:
    """The detector tokens (source -> token), made once per data directory and kept."""
    path = data_dir / "collector-tokens.json"
    tokens: dict[str, str] = {}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            tokens = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    missing = [s for s in DETECTOR_SOURCES if s not in tokens]
    if missing:
        tokens.update({s: secrets.token_urlsafe(18) for s in missing})
        write_private(path, json.dumps(tokens, indent=2) + "\n")
    return tokens


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, readable by its owner only (it holds passwords and tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def to_toml(doc: dict[str, dict[str, Any]]) -> str:
    """A TOML document of tables of scalars, lists and string maps (what the settings take)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)  # a JSON string is a TOML basic string
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(f"no TOML for {type(v).__name__}")

    lines = ["# Written by `arca standalone`: every arca command reads it through ARCA_CONFIG_FILE.",
             "# It holds passwords and tokens: keep it private (mode 0600)."]
    for table, items in doc.items():
        lines += ["", f"[{table}]"]
        lines += [f"{k} = {value(v)}" for k, v in items.items() if v is not None]
    return "\n".join(lines) + "\n"


KB_CONNECTION = ("kind", "path", "query_url", "update_url", "store_url", "username", "password",
                 "password_file")
"""The ``kb`` settings that say which store and how to reach it: the started store's, never the base's."""


def config_document(base: ArcaSettings, *, bus_url: str, kb: dict[str, Any], collector_port: int,
                    tokens: dict[str, str], cloud: dict[str, Any],
                    collector_extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The settings of the whole loop as TOML tables: the bus as ``base`` has it (exchange and queue
    names included) at ``bus_url``, the store (``kb``: its connection; what ``base`` sets beyond the
    connection is kept: retention, compaction interval, timeouts), the collector, the enforcer's cloud."""
    bus = base.bus.model_dump(mode="json")
    bus.update(kind="rabbitmq", url=bus_url)
    own = base.kb.model_dump(mode="json", exclude_unset=True, exclude=set(KB_CONNECTION))
    store = {**own, **kb}
    if isinstance(own.get("compaction"), dict) and isinstance(kb.get("compaction"), dict):
        store["compaction"] = {**own["compaction"], **kb["compaction"]}
    return {
        "bus": bus,
        "kb": store,
        "ops": {"metrics_host": "127.0.0.1", "log_json": True, "log_level": "INFO"},
        "collector": {"http_host": "127.0.0.1", "http_port": collector_port, "tokens": tokens,
                      "system": SYSTEM, **collector_extra},
        "enforcer": {"driver": "openstack", "systems": [SYSTEM], **cloud},
    }


@dataclass
class Proc:
    """One ``arca run`` process."""

    name: str
    popen: subprocess.Popen[bytes]
    metrics_port: int
    log: Path

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux ``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Standalone:
    """The loop's processes and servers; :meth:`start` brings it up, :meth:`stop` takes it down."""

    def __init__(self, options: Options, base: ArcaSettings, say: Callable[[str], None] = print) -> None:
        self.o = options
        self.base = base
        self.say = say
        self.data_dir = options.data_dir.expanduser().resolve()
        self.config_path = (options.config_out or self.data_dir / "arca.toml").expanduser().resolve()
        self.logs = self.data_dir / "logs"
        self.store: StoreServer | None = None
        self.testbed: Any = None
        self.procs: dict[str, Proc] = {}
        self.tokens: dict[str, str] = {}
        self.collector_url = ""
        self.started_at = 0.0
        self.up_s = 0.0
        self._cloud_t0 = 0.0
        self._lock: Any = None

    # -- bring-up ----------------------------------------------------------------------------------
    def start(self) -> Standalone:
        t0 = time.monotonic()
        check_broker(self.o.bus_url)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        self.logs.mkdir(exist_ok=True)
        self.tokens = tokens_file(self.data_dir)
        self.store = make_server(self.o.store, self.data_dir / f"store-{self.o.store}")
        if self.store.compact_offline():
            self.say(f"compacted the {self.o.store} store's files left by the last run (oxigraph optimize)")
        self.say(f"starting the {self.o.store} store in {self.store.directory} …")
        self.store.start()
        port = self.o.collector_port or free_port()
        self.collector_url = f"http://127.0.0.1:{port}"
        cloud, collector_extra = self._cloud()
        kb = self.store.endpoints.kb_fields()
        doc = config_document(self.base, bus_url=self.o.bus_url, kb=kb, collector_port=port,
                              tokens=self.tokens, cloud=cloud, collector_extra=collector_extra)
        write_private(self.config_path, to_toml(doc))
        self._declare_topology()
        self._knowledge()
        self._services()
        self._run_cloud()
        self.up_s = time.monotonic() - t0
        self.started_at = time.monotonic()
        return self

    def _lock_data_dir(self) -> None:
        """One loop per data directory: a second is refused naming the first's pid."""
        import fcntl

        path = self.data_dir / "standalone.lock"
        self._lock = open(path, "a+")  # noqa: SIM115 - held for the loop's life, closed by stop()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "?"
            self._lock.close()
            self._lock = None
            raise StandaloneError(f"{self.data_dir} is in use by another arca standalone (pid {holder}); "
                                  "stop it or give another --data-dir") from None
        self._lock.truncate(0)
        self._lock.write(str(os.getpid()))
        self._lock.flush()

    def _cloud(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the enforcer's cloud settings, the collector's pollers) for the testbed or ``--cloud``."""
        if self.o.cloud:
            return ({"os_cloud": self.o.cloud}, {"openstack_cloud": self.o.cloud, "gnocchi_enabled": True})
        from arca.testbed.cli import _timeline
        from arca.testbed.platform import REGION, Testbed
        from arca.testbed.timeline import parse_timeline

        s = self.base.testbed
        if self.o.timeline:
            timeline = _timeline(self.o.timeline)
            s = s.model_copy(update={"collector_url": self._event_url(), "detector_tokens": self.tokens})
        else:  # a quiet cloud: one servant, background load, no incident (send your own events)
            timeline = parse_timeline({"duration_s": 86400, "seed": 1, "incidents": [], "failures": []})
        self.testbed = Testbed.from_settings(timeline, s, start=datetime.now(UTC).replace(microsecond=0))
        self.testbed.start()  # served, its clock still: it runs once the services listen (_run_cloud)
        self._cloud_t0 = time.monotonic()
        clouds = write_private(self.data_dir / "testbed-clouds.yaml", self.testbed.clouds_yaml(TESTBED_CLOUD))
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)  # for this process's own commands
        urls = self.testbed.urls()
        enforcer = {**self.testbed.auth(), "region_name": REGION}
        collector = {
            "openstack_cloud": TESTBED_CLOUD, "gnocchi_enabled": True,
            "haproxy_urls": {f"lb-{b}": urls[f"haproxy:{b}"] for b in LBS},
            "haproxy_domains": {f"lb-{b}": b for b in LBS},
        }
        return enforcer, collector

    def _run_cloud(self) -> None:
        """Start the testbed's clock now that the collector listens (its detectors' first notes would
        be refused before), caught up with the wall time spent since the cloud was made."""
        if self.testbed is None:
            return
        behind = (time.monotonic() - self._cloud_t0) * self.o.speed
        self.testbed.model.advance_to(min(float(int(behind)), self.testbed.model.timeline.duration_s))
        self.testbed.start_ticker(speed=self.o.speed)

    def _event_url(self) -> str:
        from arca.collector.http import EVENT_PATH

        return self.collector_url + EVENT_PATH

    def env(self) -> dict[str, str]:
        """The environment of every process it runs: no ``ARCA_*`` of the caller's (the file is the
        configuration), ``ARCA_CONFIG_FILE`` and the testbed's clouds.yaml."""
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ARCA_")}
        env["ARCA_CONFIG_FILE"] = str(self.config_path)
        if self.testbed is not None:
            env["OS_CLIENT_CONFIG_FILE"] = str(self.data_dir / "testbed-clouds.yaml")
        return env

    def arca(self, *args: str, timeout: float = 120) -> str:
        """Run ``arca ARGS`` with the loop's configuration; its output, or a ``StandaloneError``."""
        out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", *args], env=self.env(),
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise StandaloneError(f"arca {' '.join(args)} failed ({out.returncode}):\n"
                                  f"{(out.stderr or out.stdout)[-3000:]}")
        return out.stdout

    def _declare_topology(self) -> None:
        """Every service's queue bound before anything is published (policy notes wait for them)."""
        from arca.app.runtime import make_publisher

        bus = make_publisher(self.settings())
        bus.start()
        bus.stop()

    def settings(self) -> ArcaSettings:
        """The loop's settings, as the written file gives them."""
        from pydantic_settings import TomlConfigSettingsSource

        data = TomlConfigSettingsSource(ArcaSettings, toml_file=self.config_path)()
        return ArcaSettings.model_validate(data)

    def _knowledge(self) -> None:
        """``arca kb init --defaults``: the ontology always (it may be newer); the shipped policies and
        prior on a store with no policy yet (a store that has one keeps what its admins applied).
        With ``--cold``, the ontology and policies only."""
        if self.o.cold:
            self.say("loading the ontology …")
            self.arca("kb", "init")
            for name in SHIPPED_POLICIES:
                self.say(f"applying {name} …")
                self.arca("policy", "apply", str(ONTOLOGY_DIR / name), "--by", "arca standalone")
            self.say(f"prior: not seeded (--cold); later: arca anticipation seed "
                     f"{ONTOLOGY_DIR / SHIPPED_PRIORS[0]}")
            return
        self.say("loading the ontology, the shipped policies and prior (arca kb init --defaults) …")
        for line in self.arca("kb", "init", "--defaults").splitlines():
            if not line.startswith("loaded "):
                self.say(f"  {line}")

    def _services(self) -> None:
        deadline = time.monotonic() + self.o.ready_timeout_s
        for name in SERVICES:
            port = free_port()
            log = self.logs / f"{name}.log"
            with log.open("ab") as sink:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "arca.app.cli.main", "run", name],
                    env={**self.env(), "ARCA_OPS__METRICS_PORT": str(port)},
                    stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )
            self.procs[name] = Proc(name, popen, port, log)
        self.say("starting the services: " + ", ".join(SERVICES) + " …")
        for proc in self.procs.values():
            self._wait_ready(proc, deadline)

    def _wait_ready(self, proc: Proc, deadline: float) -> None:
        url = f"http://127.0.0.1:{proc.metrics_port}/readyz"
        while True:
            if proc.popen.poll() is not None:
                raise StandaloneError(f"{proc.name} exited with {proc.popen.returncode}; its log "
                                      f"({proc.log}):\n{proc.tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise StandaloneError(f"{proc.name} not ready after {self.o.ready_timeout_s:g}s "
                                      f"({url}); its log ({proc.log}):\n{proc.tail()}")
            time.sleep(0.2)

    # -- running -----------------------------------------------------------------------------------
    def summary(self) -> str:
        """Where everything is, and a first command to try."""
        assert self.store is not None
        lines = [f"ARCA live loop up in {self.up_s:.1f}s (data in {self.data_dir})",
                 f"  bus        {_safe(self.o.bus_url)}",
                 f"  store      {self.store.kind} {self.store.endpoints.base}",
                 f"  collector  {self.collector_url}  "
                 f"(detector token of seismo-hq: {self.tokens['seismo-hq']})"]
        for name, proc in self.procs.items():
            lines.append(f"  {name:<10} pid {proc.popen.pid}, metrics http://127.0.0.1:{proc.metrics_port}/metrics,"
                         f" log {proc.log}")
        if self.testbed is not None:
            timeline = self.o.timeline or "quiet (no incident)"
            lines.append(f"  cloud      testbed, timeline {timeline} at speed {self.o.speed:g}: "
                         f"keystone {self.testbed.auth_url}")
            lines.append(f"             OS_CLIENT_CONFIG_FILE={self.data_dir / 'testbed-clouds.yaml'} "
                         f"OS_CLOUD={TESTBED_CLOUD} openstack server list")
        else:
            lines.append(f"  cloud      {self.o.cloud} (clouds.yaml)")
        lines += [f"  config     {self.config_path}",
                  "",
                  "Try, in another shell:",
                  f"  export ARCA_CONFIG_FILE={self.config_path}",
                  "  arca event send --source seismo-hq --severity 4 --location hq",
                  "  arca status",
                  "",
                  "Ctrl-C stops everything it started."]
        return "\n".join(lines)

    def watch(self, stop: threading.Event) -> int:
        """Until ``stop``: 0; a service that exited on its own: 1 (its log's tail is said)."""
        while not stop.wait(0.5):
            for proc in self.procs.values():
                if proc.popen.poll() is not None:
                    self.say(f"{proc.name} exited with {proc.popen.returncode}; stopping the loop. "
                             f"Its log ({proc.log}):\n{proc.tail()}")
                    return 1
        return 0

    def stop(self) -> None:
        """Stop what it started: the services (SIGTERM, then SIGKILL after 20 s), the cloud, the store."""
        for proc in self.procs.values():
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        if self.testbed is not None:
            self.testbed.stop()
        if self.store is not None:
            self.store.stop()
        if self._lock is not None:
            self._lock.close()  # releases the data directory
            self._lock = None


@contextlib.contextmanager
def running(options: Options, base: ArcaSettings, say: Callable[[str], None] = print) -> Iterator[Standalone]:
    """The loop, up for the ``with`` block and stopped after it (whatever happened)."""
    loop = Standalone(options, base, say)
    try:
        yield loop.start()
    except StoreUnavailable as exc:
        raise StandaloneError(str(exc)) from None
    finally:
        loop.stop()
