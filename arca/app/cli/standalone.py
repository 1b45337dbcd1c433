"""``arca standalone``: the whole live loop on one machine (``arca.app.standalone``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError, settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "standalone",
        help="Run the whole live loop on this machine: a store, the testbed cloud, the ontology, policies "
             "and prior, and the four services as processes, on an existing RabbitMQ broker.",
        description="Run the whole live loop on this machine until Ctrl-C: a SPARQL store it starts in "
                    "DATA_DIR, the testbed as the cloud (or --cloud), the shipped ontology, policies and "
                    "prior samples, and the four services as separate `arca run` processes. It starts "
                    "no broker: it uses the one at --bus-url.")
    p.add_argument("--bus-url", default="amqp://guest:guest@127.0.0.1:5672/%2F",
                   help="RabbitMQ broker to use (default: %(default)s).")
    p.add_argument("--store", choices=("oxigraph", "fuseki"), default="oxigraph",
                   help="SPARQL store to start (default: oxigraph; fuseki needs Java 17 and "
                        "the Fuseki jars).")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="Where the store, the logs and the written files live "
                        "(default: $XDG_DATA_HOME/arca/standalone, i.e. ~/.local/share/arca/standalone).")
    p.add_argument("--cloud", default=None, metavar="NAME",
                   help="Use this clouds.yaml cloud instead of starting the testbed.")
    p.add_argument("--timeline", default=None,
                   help="Play this testbed timeline (file or shipped name, e.g. reference): its detectors "
                        "post to the collector with their tokens. Default: a quiet cloud, no incident.")
    p.add_argument("--speed", type=float, default=1.0, help="Testbed seconds per wall second (default 1).")
    p.add_argument("--collector-port", type=int, default=None,
                   help="Collector HTTP port (default: a free one).")
    p.add_argument("--cold", action="store_true",
                   help="Do not seed the shipped prior: the decider starts with no learned samples "
                        "(reactive only until it learns or you run arca anticipation seed).")
    p.add_argument("--config-out", type=Path, default=None, metavar="FILE",
                   help="Write the loop's configuration here (default: DATA_DIR/arca.toml); other arca "
                        "commands read it with ARCA_CONFIG_FILE=FILE.")
    p.set_defaults(func=cmd_standalone)


def cmd_standalone(args: argparse.Namespace) -> int:
    from arca.app.standalone import Options, StandaloneError, default_data_dir, running

    if args.speed <= 0:
        raise CliError("--speed must be > 0")
    if args.cloud and args.timeline:
        raise CliError("--timeline plays the testbed's timeline: it cannot go with --cloud")
    options = Options(bus_url=args.bus_url, data_dir=args.data_dir or default_data_dir(), store=args.store,
                      cloud=args.cloud, timeline=args.timeline, speed=args.speed,
                      collector_port=args.collector_port, config_out=args.config_out,
                      cold=args.cold)
    out = (options.config_out or options.data_dir / "arca.toml").expanduser().resolve()
    if os.environ.get("ARCA_CONFIG_FILE") and Path(os.environ["ARCA_CONFIG_FILE"]).resolve() == out:
        os.environ.pop("ARCA_CONFIG_FILE")  # our own output of an earlier run: not an input
    base = settings()
    # what the in-process parts (the testbed, its detectors) warn of reaches the terminal
    logging.basicConfig(level=logging.WARNING, format="standalone: %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        with running(options, base, say) as loop:
            say(loop.summary())
            code = loop.watch(stop)
            say("stopping …")
    except StandaloneError as exc:
        raise CliError(f"standalone: {exc}") from None
    say("stopped: every process it started has ended")
    sys.stdout.flush()
    return code
