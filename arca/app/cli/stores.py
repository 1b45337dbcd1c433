"""SPARQL store servers started on a loopback port: Oxigraph and Apache Jena Fuseki Main.

``arca bench --store oxigraph|fuseki`` starts one for its run, and the test suites start theirs
through the same classes (tests/storekit.py), so the bench measures the store the tests prove.

A store is a process on a loopback port with its data in a directory; it can be stopped (or killed)
and started again on the same port and data (an outage), and it describes its endpoints the same way
for both kinds (:class:`SparqlEndpoints`): the three URLs ARCA's client uses and the basic-auth user.

Fuseki is Fuseki Main at the version ``ops/fuseki/pom.xml`` names: its jars come from
``$ARCA_FUSEKI_LIB`` (a folder of jars) or, in a checkout, from ``scripts/ensure-fuseki.sh``, which
resolves them from Maven Central once into a cache folder. It runs the very ``ops/fuseki/config.ttl``
compose mounts (TDB2 on disk, basic auth from a password file); the only change is where the two files
that config names live (compose mounts them at ``/run/secrets/fuseki_passwd`` and
``/fuseki/databases``): :func:`fuseki_config` replaces exactly those two paths and refuses a config that
no longer has them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from arca.config import KbSettings

CHECKOUT = Path(__file__).resolve().parents[3]
"""The source checkout this module runs from (ops/ and scripts/ exist only there, not in a wheel)."""
FUSEKI_CONFIG = CHECKOUT / "ops" / "fuseki" / "config.ttl"
FUSEKI_PASSWD_PATH = "/run/secrets/fuseki_passwd"  # where compose mounts the password file
FUSEKI_DB_PATH = "/fuseki/databases/arca"  # where compose keeps the TDB2 dataset
FUSEKI_USER = "arca"  # the user config.ttl allows
STORE_KINDS = ("oxigraph", "fuseki")


class StoreUnavailable(RuntimeError):
    """A store server that could not be started (the message says why, with its log)."""


def free_port() -> int:
    """A TCP port free on the loopback interface now (nothing reserves it: bind it soon)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kb_env(kb: KbSettings) -> dict[str, str]:
    """The ``ARCA_KB__*`` variables of services on the SPARQL store of settings ``kb``."""
    env = {"ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": kb.query_url,
           "ARCA_KB__UPDATE_URL": kb.update_url, "ARCA_KB__STORE_URL": kb.store_url}
    if kb.username is not None:
        env.update(ARCA_KB__USERNAME=kb.username, ARCA_KB__PASSWORD=kb.secret() or "")
    if kb.compaction.url is not None:
        env["ARCA_KB__COMPACTION__URL"] = kb.compaction.url
    return env


@dataclass(frozen=True)
class SparqlEndpoints:
    """Where a SPARQL 1.1 store answers, and who may write to it."""

    kind: str
    base: str
    query_url: str
    update_url: str
    store_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    compact_url: str | None = None
    """The store's compaction endpoint (``kb.compaction.url``), if it has one."""

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password or "") if self.username is not None else None

    def kb_fields(self, **overrides: Any) -> dict[str, Any]:
        """``KbSettings`` fields of a SPARQL knowledge base on this store (plus ``overrides``)."""
        out: dict[str, Any] = dict(kind="sparql", query_url=self.query_url, update_url=self.update_url,
                                   store_url=self.store_url)
        if self.username is not None:
            out.update(username=self.username, password=self.password)
        if self.compact_url is not None:
            out.update(compaction={"url": self.compact_url})
        out.update(overrides)
        return out

    def kb_settings(self, **overrides: Any) -> KbSettings:
        """The settings of a SPARQL knowledge base on this store."""
        return KbSettings.model_validate(self.kb_fields(**overrides))

    def env(self) -> dict[str, str]:
        """The ``ARCA_KB__*`` variables of a service using this store (``kb_env``)."""
        return kb_env(self.kb_settings())

    def update(self, text: str, timeout: float = 30) -> None:
        r = requests.post(self.update_url, data={"update": text}, auth=self.auth, timeout=timeout)
        r.raise_for_status()

    def select(self, text: str, timeout: float = 30) -> list[dict[str, Any]]:
        r = requests.post(self.query_url, data={"query": text}, auth=self.auth, timeout=timeout,
                          headers={"Accept": "application/sparql-results+json"})
        r.raise_for_status()
        rows: list[dict[str, Any]] = r.json()["results"]["bindings"]
        return rows

    def clear(self) -> None:
        """Empty the store (every graph)."""
        self.update("DROP ALL")


def oxigraph_binary() -> str:
    candidate = Path(sys.executable).parent / "oxigraph"
    found = str(candidate) if candidate.exists() else shutil.which("oxigraph")
    if not found:
        raise StoreUnavailable("the oxigraph server binary is missing: pip install 'arca[standalone]' "
                               "(or pip install oxigraph)")
    return found


def fuseki_classpath() -> str:
    """The jars of Fuseki Main: ``$ARCA_FUSEKI_LIB``, else the folder scripts/ensure-fuseki.sh fills
    (and prints) in a checkout."""
    lib = os.environ.get("ARCA_FUSEKI_LIB")
    if not lib:
        script = CHECKOUT / "scripts" / "ensure-fuseki.sh"
        if not script.exists():
            raise StoreUnavailable("no Fuseki jars: set ARCA_FUSEKI_LIB to a folder of Fuseki Main's jars "
                                   "(in a checkout, scripts/ensure-fuseki.sh resolves them)")
        out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise StoreUnavailable(f"scripts/ensure-fuseki.sh failed:\n{out.stderr[-3000:]}")
        lib = out.stdout.strip()
    if not any(Path(lib).glob("jena-fuseki-main-*.jar")):
        raise StoreUnavailable(f"{lib} holds no jena-fuseki-main jar")
    return str(Path(lib) / "*")


def fuseki_config(passwd_file: Path, database: Path) -> str:
    """ops/fuseki/config.ttl with the password file and the TDB2 location moved to ``passwd_file``
    and ``database`` (nothing else changed)."""
    if not FUSEKI_CONFIG.exists():
        raise StoreUnavailable(f"{FUSEKI_CONFIG} is missing: Fuseki is started from a checkout's config")
    text = FUSEKI_CONFIG.read_text()
    for path in (FUSEKI_PASSWD_PATH, FUSEKI_DB_PATH):
        if text.count(f'"{path}"') != 1:
            raise StoreUnavailable(f"{FUSEKI_CONFIG} no longer names {path} once: update tests/storekit.py")
    return (text.replace(f'"{FUSEKI_PASSWD_PATH}"', f'"{passwd_file}"')
                .replace(f'"{FUSEKI_DB_PATH}"', f'"{database}"'))


class StoreServer:
    """A store server process on a fixed loopback port and data directory; start, stop, start again."""

    kind = "?"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = False  # it has answered once (its port is then kept across restarts)
        self.log = self.directory / "server.log"

    @property
    def endpoints(self) -> SparqlEndpoints:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def compact_offline(self) -> bool:
        """Compact the stopped store's files when the store cannot be asked to online; True when it
        ran (the default: nothing to do, e.g. Fuseki compacts online, ``kb.compaction``)."""
        return False

    def start(self, timeout: float = 90) -> StoreServer:
        """Start (or restart, on the same port and data) the server. On its first start a port taken
        meanwhile (``free_port`` reserves nothing: a broker node may bind it first) is replaced."""
        for _attempt in range(3):
            with self.log.open("ab") as log:
                self.popen = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)
            deadline = time.monotonic() + timeout
            while not self.answers():
                if self.popen.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            else:
                self.started = True
                return self
            self.stop()
            if self.started:
                break
            self.port = free_port()
        raise StoreUnavailable(f"{self.kind} did not start on port {self.port}:\n"
                               f"{self.log.read_text(errors='replace')[-3000:]}")

    def answers(self) -> bool:
        """The server answers an authenticated ASK."""
        ep = self.endpoints
        try:
            r = requests.post(ep.query_url, data={"query": "ASK {}"}, auth=ep.auth, timeout=2)
        except requests.RequestException:
            return False
        return r.status_code == 200

    def stop(self) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.terminate()
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
        self.popen = None

    def kill(self) -> None:
        """SIGKILL: the server dies mid-whatever (no clean shutdown, no flush)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self.popen = None

    def __enter__(self) -> StoreServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OxigraphServer(StoreServer):
    """``oxigraph serve`` (the ``oxigraph`` package's binary): /query, /update, /store, no auth."""

    kind = "oxigraph"

    @property
    def endpoints(self) -> SparqlEndpoints:
        base = f"http://127.0.0.1:{self.port}"
        return SparqlEndpoints("oxigraph", base, base + "/query", base + "/update", base + "/store")

    def command(self) -> list[str]:
        return [oxigraph_binary(), "serve", "--location", str(self.directory / "data"),
                "--bind", f"127.0.0.1:{self.port}"]

    def compact_offline(self) -> bool:
        """``oxigraph optimize`` on the stopped store's data, if there is any: the server has no
        compaction endpoint and its write-ahead log grows until RocksDB flushes (15 MB an hour
        measured under the live loop). True when it ran."""
        data = self.directory / "data"
        if self.popen is not None and self.popen.poll() is None:
            raise StoreUnavailable("oxigraph optimize needs the server stopped")
        if not (data / "CURRENT").exists():
            return False
        out = subprocess.run([oxigraph_binary(), "optimize", "--location", str(data)], capture_output=True,
                             text=True, timeout=600)
        if out.returncode != 0:
            raise StoreUnavailable(f"oxigraph optimize --location {data}: {out.stderr.strip()[-1000:]}")
        return True


class FusekiServer(StoreServer):
    """Fuseki Main with the shipped config.ttl: /arca/query, /arca/update, /arca/data, basic auth."""

    kind = "fuseki"

    def __init__(self, directory: Path, port: int | None = None, heap: str = "4g") -> None:
        # 4 GB: with 1 GB, the live-loop fault table's Fuseki stopped answering (no request logged for
        # three minutes, no error) once the table had filled its store, late in a full suite run
        super().__init__(directory, port)
        self.password = secrets.token_hex(12)
        self.passwd_file = self.directory / "fuseki_passwd"
        # the format compose's secret has (docs/ops.md): one line "arca: <password>"
        self.passwd_file.write_text(f"{FUSEKI_USER}: {self.password}\n")
        self.config = self.directory / "config.ttl"
        self.config.write_text(fuseki_config(self.passwd_file, self.directory / "databases" / "arca"))
        self.heap = heap
        self.classpath = fuseki_classpath()

    @property
    def endpoints(self) -> SparqlEndpoints:
        base = f"http://127.0.0.1:{self.port}/arca"
        return SparqlEndpoints("fuseki", base, base + "/query", base + "/update", base + "/data",
                               FUSEKI_USER, self.password,
                               f"http://127.0.0.1:{self.port}/$/compact/arca?deleteOld=true")

    def command(self) -> list[str]:
        java = os.environ.get("ARCA_TEST_JAVA", "java")
        return [java, f"-Xmx{self.heap}", "-cp", self.classpath,
                "org.apache.jena.fuseki.main.cmds.FusekiMainCmd",
                "--conf", str(self.config), "--localhost", "--port", str(self.port)]


def make_server(kind: str, directory: Path, port: int | None = None) -> StoreServer:
    if kind == "oxigraph":
        return OxigraphServer(directory, port)
    if kind == "fuseki":
        return FusekiServer(directory, port)
    raise StoreUnavailable(f"unknown store kind {kind!r} (one of {', '.join(STORE_KINDS)})")
