"""CPU of publishing one message on ``RabbitBus`` and waiting for its confirm, from concurrent threads.

    .venv/bin/python scripts/bench_bus_confirms.py [-n 4000] [--threads 8] [--rabbit-url URL]

What each collector HTTP request does after validation: ``publish_tracked`` + ``wait_confirmed`` of its
own message, from ``--threads`` threads at once (waitress's ``collector.http_threads``). ``-n``
detector-event messages, encoded beforehand (the codec keeps the bytes of recent messages, so only the
bus is measured), on a fresh exchange and queue (deleted afterwards); prints the process's CPU µs
per message and the rate.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pika

from arca.bus.rabbitmq import RabbitBus
from arca.config import BusSettings
from arca.messages import ExternalEvent
from arca.messages.codec import encode
from arca.messages.ids import derived_id


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--rabbit-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = ap.parse_args(argv)
    tok = uuid.uuid4().hex[:8]
    settings = BusSettings(kind="rabbitmq", url=args.rabbit_url, exchange=f"bc-{tok}",
                           dead_letter_exchange=f"bc-dlx-{tok}", dead_letter_queue=f"bc-dlq-{tok}",
                           queue_prefix=f"bc-{tok}.")
    queue = f"bc-{tok}.sink"
    bus = RabbitBus(settings, service="collector")
    bus.declare(queue, ["#"])
    bus.start()
    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    messages = [ExternalEvent(message_id=derived_id("event", "s", str(i)), event_time=t0, producer="c",
                              event_id=str(i), source="s", onset=t0, payload_kind="bigdata", severity=2,
                              system="emergency") for i in range(args.n)]
    for message in messages:
        encode(message)

    def worker(k: int) -> None:
        for message in messages[k::args.threads]:
            bus.wait_confirmed([bus.publish_tracked(message)], 30)

    cpu0, wall0 = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"RabbitBus publish_tracked + wait_confirmed, {args.threads} threads: "
          f"{cpu / args.n * 1e6:.0f} µs CPU per message, {args.n / wall:.0f} messages/s")
    bus.stop()
    conn = pika.BlockingConnection(pika.URLParameters(args.rabbit_url))
    ch = conn.channel()
    for q in (queue, settings.dead_letter_queue):
        ch.queue_delete(q)
    for x in (settings.exchange, settings.dead_letter_exchange):
        ch.exchange_delete(x)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
