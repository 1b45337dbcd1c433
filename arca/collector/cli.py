"""``arca event validate FILE`` and ``arca event send``: detector events from the terminal.

``validate`` accepts a RESTCONF JSON notification or a CAP 1.2 alert (XML) and exits 0 when the
collector would accept it, 1 with the failing path otherwise. Severity scales come from the
configured knowledge base, or ``--scales FILE`` (Turtle); when neither has any, the shipped example
``ontology/policies/severity-scales.ttl`` is used (said on stderr).
``send`` builds a notification (bigdata payload for ``--severity``, seismometer for ``--magnitude``),
validates it and publishes it: HTTP POST to the collector (``--url``) or AMQP to the detectors
exchange (``--amqp``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from arca.app.cli.main import CliError, read_file, settings
from arca.collector.errors import IngestError
from arca.collector.severity import load_scales
from arca.namespace import ONTOLOGY_DIR

if TYPE_CHECKING:
    from arca.collector.severity import SeverityScales

# collector.events (yangson), collector.http (flask) and collector.ingest are imported by the
# commands that use them: every ``arca`` command registers this module's parsers

EXAMPLE_SCALES = ONTOLOGY_DIR / "policies" / "severity-scales.ttl"


def register(sub: Any) -> None:
    event = sub.add_parser("event", help="Detector events: validate a file, send an event.")
    ev = event.add_subparsers(dest="event_command", metavar="ACTION", required=True)

    val = ev.add_parser("validate", help="Validate a RESTCONF JSON notification or a CAP 1.2 alert.")
    val.add_argument("file", help="JSON notification or CAP XML file.")
    val.add_argument("--scales", help="Turtle file with arca:SeverityScale definitions.")
    val.set_defaults(func=cmd_validate)

    send = ev.add_parser("send", help="Build, validate and publish a detector event.")
    send.add_argument("--source", required=True, help="Detector source name.")
    level = send.add_mutually_exclusive_group(required=True)
    level.add_argument("--severity", type=int, help="Severity (bigdata payload).")
    level.add_argument("--magnitude", type=int, help="Magnitude, 0..255 (seismometer payload).")
    send.add_argument("--location", help="Location (seismometer payload, else the event context).")
    send.add_argument("--id", dest="event_id", help="Event id (default: a fresh UUID).")
    send.add_argument("--sequence", type=int, help="Sequence number at the source.")
    send.add_argument("--description", help="Description (bigdata payload).")
    send.add_argument("--token", help="Token issued to the source (HTTP bearer / AMQP x-arca-token "
                      "header; default: the source's token in collector.tokens).")
    dest = send.add_mutually_exclusive_group()
    dest.add_argument("--url", help="Collector base URL (default: http://<http_host>:<http_port>).")
    dest.add_argument("--amqp", action="store_true", help="Publish to the detectors exchange instead.")
    send.add_argument("--print", dest="print_only", action="store_true",
                      help="Print the notification instead of sending it.")
    send.set_defaults(func=cmd_send)

    bench = ev.add_parser("bench", help="Measure the per-event ingest cost (validate + build + encode).")
    bench.add_argument("-n", type=int, default=2000, help="Events per stage (default 2000).")
    bench.set_defaults(func=cmd_bench)


def _scales(path: str | None) -> SeverityScales:
    from arca.app.runtime import make_kb
    from arca.kb import EmbeddedKnowledgeBase
    from arca.kb.base import KnowledgeBaseError

    if path:
        kb = EmbeddedKnowledgeBase(None)
        try:
            kb.load_turtle(read_file(path))
        except KnowledgeBaseError as exc:
            raise CliError(f"{path}: invalid severity scales: {exc}") from None
        scales = load_scales(kb)
        if not scales.by_source:
            raise CliError(f"{path}: no arca:SeverityScale in it")
        return scales
    scales = load_scales(make_kb(settings()))
    if not scales.by_source:
        print(f"arca: no severity scales in the knowledge base; using {EXAMPLE_SCALES}", file=sys.stderr)
        kb = EmbeddedKnowledgeBase(None)
        kb.load_turtle(EXAMPLE_SCALES.read_bytes())
        scales = load_scales(kb)
    return scales


def cmd_validate(args: argparse.Namespace) -> int:
    from arca.collector.ingest import Ingestor

    logging.getLogger("collector").setLevel(logging.ERROR)  # the verdict below says it once
    data = read_file(args.file)
    cfg = settings().collector
    ingestor = Ingestor(cfg, lambda _m: None, _scales(args.scales), producer="arca-cli")
    try:
        if data.lstrip().startswith(b"<"):
            outcome = ingestor.cap_alert(data)
        else:
            outcome = ingestor.detector_event(data)
    except IngestError as exc:
        raise CliError(f"{args.file}: rejected ({exc.reason}) at {exc.path or '/'}: {exc.detail}") from None
    for msg in outcome.messages:
        print(json.dumps(msg.model_dump(mode="json", exclude_none=True)))
    if outcome.status == "ignored":
        print(f"{args.file}: valid but ignored ({', '.join(outcome.flags)})")
    else:
        print(f"{args.file}: accepted ({len(outcome.messages)} event(s))")
    return 0


def build_from_args(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    from arca.collector.events import build_notification, build_payload

    if args.magnitude is not None:
        if not 0 <= args.magnitude <= 255:
            raise CliError("--magnitude must be 0..255 (uint8 in the YANG module)")
        payload = build_payload("seismometer", magnitude=args.magnitude, location=args.location)
        context = None
    else:
        if not 0 <= args.severity <= 255:
            raise CliError("--severity must be 0..255 (uint8 in the YANG module)")
        payload = build_payload("bigdata", severity=args.severity, description=args.description)
        context = args.location
    return build_notification(
        event_id=args.event_id or uuid.uuid4().hex, source=args.source, timestamp=now,
        payload=payload, sequence=args.sequence, context=context,
    )


def cmd_send(args: argparse.Namespace) -> int:
    s = settings()
    doc = build_from_args(args, datetime.now(UTC))
    body = json.dumps(doc).encode()
    low, high = s.collector.severity_min, s.collector.severity_max
    if args.severity is not None and not low <= args.severity <= high:
        raise CliError(f"--severity {args.severity} outside the scale {low}..{high}")
    try:
        from arca.collector.events import parse_notification

        parse_notification(body)
    except IngestError as exc:
        raise CliError(f"built an invalid event at {exc.path}: {exc.detail}") from None
    if args.print_only:
        print(body.decode())
        return 0
    if args.amqp:
        url = s.collector.amqp_url or s.bus.url
        return _send_amqp(url, s.collector.detectors_exchange, args.source, body,
                          args.token or s.collector.tokens.get(args.source))
    token = args.token or s.collector.tokens.get(args.source)  # the configured source's own token
    return _send_http(args.url, s, body, token)


def _send_amqp(url: str, exchange: str, source: str, body: bytes, token: str | None) -> int:
    import pika

    from arca.collector.auth import TOKEN_HEADER
    from arca.messages.models import routing_token

    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(exchange, "topic", durable=True)
        ch.basic_publish(
            exchange, f"event.{routing_token(source)}", body,
            pika.BasicProperties(delivery_mode=2, content_type="application/yang-data+json",
                                 headers={TOKEN_HEADER: token} if token else None),
            mandatory=True,
        )
    except pika.exceptions.UnroutableError:
        raise CliError(f"no queue is bound to exchange {exchange!r} (is the collector running?)") from None
    finally:
        conn.close()
    print(f"published to exchange {exchange}")
    return 0


def _send_http(url: str | None, s: Any, body: bytes, token: str | None) -> int:
    import requests

    from arca.collector.http import EVENT_PATH

    if url is None:
        if s.collector.http_port is None:
            raise CliError("no --url and no collector.http_port configured")
        url = f"http://{s.collector.http_host}:{s.collector.http_port}"
    headers = {"Content-Type": "application/yang-data+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = requests.post(url.rstrip("/") + EVENT_PATH, data=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the collector at {url}: {exc}") from None
    if resp.status_code != 202:
        retry = resp.headers.get("Retry-After")
        after = f" (retry after {retry} s)" if retry else ""
        raise CliError(f"collector refused the event ({resp.status_code}): {restconf_message(resp)}{after}")
    print(resp.text)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from arca.collector.bench import measure

    if args.n < 1:
        raise CliError("-n must be at least 1")
    for stage, r in measure(args.n).items():
        print(f"{stage:15s} n={int(r['n'])} mean={r['mean_us']:.0f}us p50={r['p50_us']:.0f}us "
              f"p99={r['p99_us']:.0f}us ({r['per_s']:.0f}/s)")
    return 0


def restconf_message(resp: Any) -> str:
    """The words of an RFC 8040 error answer (``ietf-restconf:errors``): ``error-path: error-message``
    of each error (the body as it came when it is something else, e.g. a proxy's page)."""
    try:
        errors = resp.json()["ietf-restconf:errors"]["error"]
        return "; ".join(f"{e['error-path']}: {e['error-message']}" if e.get("error-path")
                         else str(e["error-message"]) for e in errors)
    except (ValueError, KeyError, TypeError):
        return str(resp.text)
