"""``arca fuzz``: property-based fuzzing (hypothesis) of every entry point that takes outside input.

Targets — each feeds generated inputs to the real entry point and sorts the outcome:

- ``event``: ``Ingestor.detector_event`` (what the HTTP and AMQP ingest call) with raw bytes —
  arbitrary JSON, hostile tokens (deep nesting, 4,301-digit integers, lone surrogates, NaN, extreme
  date-times, non-base64) and mutations of a valid RESTCONF notification;
- ``cap``: ``Ingestor.cap_alert`` with mutations of a valid CAP 1.2 alert (every element's text
  replaced by hostile text, elements dropped) and raw bytes;
- ``osm``: ``Ingestor.osm_alarm`` with mutated OSM webhooks;
- ``codec``: ``arca.messages.codec.decode`` with mutated N-Triples of valid messages (a decoded
  message must also round-trip and carry only aware datetimes);
- ``policy``: ``arca.decider.validation.validate_policy`` with a valid policy whose property values are
  replaced by generated Turtle terms (typed literals with hostile lexical forms, ``[]``, IRIs).

An *expected* outcome is acceptance or the entry point's own refusal (``IngestError``,
``MessageError``, ``PolicyInvalid``): a clean 400 / exit 1. Anything else is *unexpected* — it
would have been a 500 or a traceback. It is not caught inside the property: hypothesis sees it,
shrinks it to its smallest input, and reports each distinct one with that input and its
``@reproduce_failure`` blob, which the command prints. Failing inputs are kept in an example
database (``--database DIR``, one folder per target, default ``$XDG_CACHE_HOME/arca/fuzz`` i.e.
``~/.cache/arca/fuzz``), so the next run replays them first (not with ``--seed``: hypothesis uses
no database for a seeded run). The test suite runs the same targets
with a few dozen examples each (``tests/fuzz``); ``arca fuzz -n 10000`` runs them long and exits 1
when any unexpected exception was seen.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError

T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)

CAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msgType}</msgType>
  <scope>{scope}</scope>
  <info>
    <category>{category}</category>
    <event>{event}</event>
    <urgency>{urgency}</urgency>
    <severity>{severity}</severity>
    <certainty>{certainty}</certainty>
    <onset>{onset}</onset>
    <headline>{headline}</headline>
    <parameter><valueName>magnitude</valueName><value>{magnitude}</value></parameter>
    <area><areaDesc>{areaDesc}</areaDesc></area>
  </info>
</alert>
"""
CAP_FIELDS = {
    "identifier": "quake-1", "sender": "seismo-hq", "sent": "2026-11-22T02:00:00+00:00",
    "status": "Actual", "msgType": "Alert", "scope": "Public", "category": "Geo",
    "event": "Earthquake", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
    "onset": "2026-11-22T01:59:58+00:00", "headline": "M6 quake", "magnitude": "6.1",
    "areaDesc": "building-3",
}
HOSTILE_TEXT = [
    "", " ", "\ud800", "\udfff", "nan", "NaN", "inf", "-inf", "1e999", "-0", "1" * 4301,
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-11-22T02:00:00", "2026-11-22T25:00:00Z", "%%%", "[" * 1000,
    "{" * 50, "\x00", "urn:x> ; DROP ALL ; DROP SILENT GRAPH <urn:y", '"} ; DROP ALL #', "$g",
    "é中🚀", "A" * 70000, "-1", "256", "18446744073709551616",
]


@dataclass(frozen=True)
class Failure:
    """One distinct unexpected exception, as hypothesis reported it after shrinking."""

    error: str
    """``Type: message``."""
    example: str
    """Hypothesis's notes: the smallest failing input and the ``@reproduce_failure`` line."""
    trace: str
    """The last frames of the traceback."""

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        notes = [str(n).strip() for n in getattr(exc, "__notes__", [])]
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        return cls(f"{type(exc).__name__}: {str(exc)[:300]}", "\n".join(notes), trace.rstrip())


@dataclass
class Tally:
    """Outcomes of one target: every input run (replayed, generated and tried while shrinking)."""

    inputs: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[Failure] = field(default_factory=list)


def default_database() -> Path:
    """Where failing inputs are kept between runs: ``$XDG_CACHE_HOME/arca/fuzz`` (``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "arca" / "fuzz"


# --- strategies -------------------------------------------------------------------------------

def _st() -> Any:
    from hypothesis import strategies as st

    return st


def json_values() -> Any:
    st = _st()
    scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
               | st.text(max_size=30) | st.sampled_from(HOSTILE_TEXT))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def hostile_text() -> Any:
    st = _st()
    return st.sampled_from(HOSTILE_TEXT) | st.text(max_size=40) | st.from_regex(
        r"-?\d{1,25}(\.\d{0,5})?([eE][+-]?\d{1,4})?", fullmatch=True)


def _valid_notification() -> dict[str, Any]:
    from arca.collector.events import build_notification, build_payload

    return build_notification(event_id="e-1", source="seismo-hq", timestamp=T0, sequence=3,
                              payload=build_payload("seismometer", magnitude=6, location="building-3"),
                              context="building-3")


def _mutate_json(doc: Any, path: list[str | int], value: Any) -> Any:
    """``doc`` with the node at ``path`` (indices wrapped) replaced by ``value``."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        keys = sorted(doc)
        key = keys[hash(str(path[0])) % len(keys)] if not isinstance(path[0], str) or path[0] not in doc \
            else path[0]
        out = dict(doc)
        out[key] = _mutate_json(doc[key], path[1:], value)
        return out
    out_list = list(doc)
    i = int(path[0]) % len(out_list) if isinstance(path[0], int) else 0
    out_list[i] = _mutate_json(out_list[i], path[1:], value)
    return out_list


def event_inputs() -> Any:
    st = _st()
    env, ev = "ietf-restconf:notification", "ietf-nmrg-nict-resource-anticipation:event"
    leaves = st.sampled_from([[env, "eventTime"], [env, ev, "id"], [env, ev, "source"],
                              [env, ev, "timestamp"], [env, ev, "sequence"], [env, ev, "payload"],
                              [env, ev, "context"], [env, ev], [env], [env, "extra"], [env, ev, "extra"]])

    def mutate(path: list[str], value: Any) -> bytes:
        return json.dumps(_mutate_json(_valid_notification(), list(path), value)).encode()

    def payload(value: Any) -> bytes:
        doc = _valid_notification()
        raw = json.dumps(value).encode() if not isinstance(value, bytes) else value
        doc[env][ev]["payload"] = base64.b64encode(raw).decode()
        return json.dumps(doc).encode()

    payload_docs = st.one_of(
        json_values(),
        st.builds(lambda k, v: {"ietf-nmrg-nict-resource-anticipation:events": {"event-payloads": {
            f"event-payloads-{k}": [v]}}}, st.sampled_from(["basic", "seismometer", "bigdata", "x"]),
            st.dictionaries(st.sampled_from(["plid", "magnitude", "severity", "location", "data",
                                             "description", "x"]), json_values(), max_size=4)),
        st.binary(max_size=40),
    )
    return st.one_of(
        st.builds(mutate, leaves, json_values() | hostile_text()),
        st.builds(payload, payload_docs),
        json_values().map(lambda v: json.dumps(v).encode()),
        st.sampled_from(HOSTILE_TEXT).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=80),
    )


def cap_inputs() -> Any:
    st = _st()

    def render(changes: dict[str, str], drop: list[str]) -> bytes:
        fields = {**CAP_FIELDS, **changes}
        text = CAP_TEMPLATE.format(**{k: _xml_text(v) for k, v in fields.items()})
        for name in drop:
            text = "\n".join(line for line in text.splitlines() if f"<{name}>" not in line)
        return text.encode("utf-8", "surrogatepass")

    changes = st.dictionaries(st.sampled_from(sorted(CAP_FIELDS)), hostile_text(), max_size=3)
    drops = st.lists(st.sampled_from(sorted(CAP_FIELDS)), max_size=2)
    return st.one_of(st.builds(render, changes, drops), st.binary(max_size=80),
                     st.sampled_from(HOSTILE_TEXT).map(lambda t: t.encode("utf-8", "surrogatepass")))


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def osm_inputs() -> Any:
    st = _st()
    details = {"alarm_uuid": "a-1", "vdu_name": "vm-1", "vnf_member_index": "1", "ns_id": "ns-1",
               "metric_name": "vm_status", "status": "insufficient-data", "severity": "critical",
               "threshold_value": 1.0, "start_date": "22-11-2026 02:07:30"}

    def render(changes: dict[str, Any], as_string: bool) -> bytes:
        doc = {"schema_version": "1.1", "schema_type": "notify_alarm",
               "notify_details": {**details, **changes}}
        text = json.dumps(doc)
        return (json.dumps(text) if as_string else text).encode()

    changes = st.dictionaries(st.sampled_from([*sorted(details), "tags"]), json_values() | hostile_text(),
                              max_size=3)
    return st.one_of(st.builds(render, changes, st.booleans()),
                     json_values().map(lambda v: json.dumps(v).encode()), st.binary(max_size=60))


def _sample_messages() -> list[bytes]:
    from arca.messages import Alarm, Decision, ExternalEvent, Situation
    from arca.messages.codec import encode

    return [encode(m) for m in (
        ExternalEvent(event_time=T0, event_id="e", source="s", onset=T0, payload_kind="seismometer",
                      severity=3, magnitude=6.0, sequence=3, location="b-3"),
        Situation(event_time=T0, system="emergency", servants_active=2, average_load=0.5,
                  incident_onset=T0, incident_elapsed_s=3.0),
        Decision(event_time=T0, system="emergency", strategy="arca", target_servants=3, reason="r",
                 rule="x"),
        Alarm(event_time=T0, system="emergency", alarm_id="a", metric="m", status="ok"),
    )]


XSD = "http://www.w3.org/2001/XMLSchema#"
DATATYPES = [f"{XSD}{t}" for t in ("string", "integer", "double", "boolean", "dateTime", "decimal",
                                   "float", "int", "date")] + ["urn:x", "https://w3id.org/arca/ns#X"]


def codec_inputs() -> Any:
    st = _st()
    samples = _sample_messages()

    def mutate(i: int, line: int, lexical: str, datatype: str, mode: int) -> bytes:
        lines = samples[i % len(samples)].decode().splitlines()
        n = line % len(lines)
        subject, predicate, _rest = lines[n].split(" ", 2)
        escaped = lexical.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        if mode == 0:
            lines[n] = f'{subject} {predicate} "{escaped}"^^<{datatype}> .'
        elif mode == 1:
            del lines[n]
        elif mode == 2:
            lines.append(lines[n])
        else:
            lines[n] = f"{subject} {predicate} <{datatype}> ."
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")

    return st.one_of(
        st.builds(mutate, st.integers(0, 3), st.integers(0, 40), hostile_text(), st.sampled_from(DATATYPES),
                  st.integers(0, 3)),
        st.binary(max_size=80),
    )


POLICY_PROPS = ["lowThreshold", "highThreshold", "minServants", "maxServants", "defaultServants",
                "anticipation", "expirationSeconds", "leadTimeSeconds", "allowedAction", "strategy",
                "thresholdUp", "thresholdDown", "coolOffSeconds", "targetLoad", "tolerance",
                "staticAmount", "system", "listensToDomain", "unknownProperty"]


def policy_inputs() -> Any:
    st = _st()

    def literal(lexical: str, datatype: str) -> str:
        escaped = lexical.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return f'"{escaped}"^^<{datatype}>'

    terms = st.one_of(
        st.builds(literal, hostile_text(), st.sampled_from(DATATYPES)),
        st.sampled_from(["[]", "[ <https://w3id.org/arca/ns#x> 1 ]", "<urn:x>", "()", "( 1 2 )", "true",
                         "-1", "0", "1.5", "1e308", "-0.0", '"scale-out"', '"arca"', '""', "1, 2"]),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.text(max_size=20).map(lambda t: json.dumps(t)),
    )

    def render(changes: dict[str, str]) -> bytes:
        lines = ['@prefix arca: <https://w3id.org/arca/ns#> .', '<urn:p:emergency> a arca:Policy ;',
                 '    arca:system "emergency" ;']
        for prop, term in sorted(changes.items()):
            lines.append(f"    arca:{prop} {term} ;")
        last = '    arca:strategy "arca" .' if "strategy" not in changes else "    arca:maxServants 9 ."
        lines.append(last)
        return "\n".join(lines).encode("utf-8", "surrogatepass")

    return st.one_of(st.builds(render, st.dictionaries(st.sampled_from(POLICY_PROPS), terms, max_size=4)),
                     st.binary(max_size=60))


# --- checks -----------------------------------------------------------------------------------

def _ingestor() -> Any:
    from arca.collector.ingest import Ingestor
    from arca.collector.settings import CollectorSettings
    from arca.collector.severity import load_scales
    from arca.kb import EmbeddedKnowledgeBase
    from arca.namespace import ONTOLOGY_DIR

    kb = EmbeddedKnowledgeBase()
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    # the NS of ``osm_inputs`` is managed, so mutated alarms get past the NS check into the mapping
    return Ingestor(CollectorSettings(osm_ns_systems={"ns-1": "emergency"}), lambda _m: None,
                    load_scales(kb), producer="fuzz")


def make_check(target: str) -> Callable[[bytes], bool]:
    """A function that runs one input through ``target``: True when accepted, False when refused
    cleanly; it raises for anything unexpected."""
    if target in ("event", "cap", "osm"):
        from arca.collector.errors import IngestError

        ingestor = _ingestor()
        call: Callable[[bytes], Any] = {
            "event": ingestor.detector_event,
            "cap": ingestor.cap_alert,
            "osm": lambda b: ingestor.osm_alarm(b, T0),
        }[target]

        def run(data: bytes) -> bool:
            ingestor.tracker = type(ingestor.tracker)(10)  # no duplicate memory between inputs
            try:
                outcome = call(data)
            except IngestError as exc:
                if exc.status >= 500:
                    raise AssertionError(f"refused with status {exc.status}: {exc}") from exc
                return False
            return outcome.status in ("accepted", "ignored", "duplicate")

        return run
    if target == "codec":
        from arca.messages.codec import MessageError, decode, encode

        def run_codec(data: bytes) -> bool:
            try:
                msg = decode(data)
            except MessageError:
                return False
            for name in type(msg).model_fields:
                value = getattr(msg, name)
                if isinstance(value, datetime) and value.utcoffset() is None:
                    raise AssertionError(f"decoded a naive datetime in {name}")
            if decode(encode(msg)) != msg:
                raise AssertionError("decoded message does not round-trip")
            return True

        return run_codec
    if target == "policy":
        from arca.decider.validation import PolicyInvalid, validate_policy

        def run_policy(data: bytes) -> bool:
            try:
                validate_policy(data, "fuzz.ttl")
            except PolicyInvalid:
                return False
            return True

        return run_policy
    raise CliError(f"unknown fuzz target {target!r}; known: {', '.join(TARGETS)}")


TARGETS: dict[str, Callable[[], Any]] = {
    "event": event_inputs, "cap": cap_inputs, "osm": osm_inputs, "codec": codec_inputs,
    "policy": policy_inputs,
}


def run_target(target: str, n: int, seed: int | None = None, database: Path | None = None) -> Tally:
    """Run ``target`` on up to ``n`` generated inputs (after replaying the failing inputs kept in
    ``database``/``target``, when given: hypothesis ignores its database for a run with a ``seed``)
    with every phase of hypothesis: an unexpected exception stops the search, is shrunk to its
    smallest input and lands in ``Tally.failures``."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis.database import DirectoryBasedExampleDatabase

    check = make_check(target)
    tally = Tally()
    examples = DirectoryBasedExampleDatabase(str(database / target)) if database is not None else None

    @settings(max_examples=n, deadline=None, database=examples, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(TARGETS[target]())
    def fuzz(data: bytes) -> None:
        tally.inputs += 1
        if check(data):  # raises what would have been a 500 / traceback: hypothesis shrinks it
            tally.accepted += 1
        else:
            tally.refused += 1

    if seed is not None:
        fuzz = hseed(seed)(fuzz)
    try:
        fuzz()
    except BaseExceptionGroup as group:  # several distinct failures, each shrunk
        tally.failures.extend(Failure.of(exc) for exc in group.exceptions)
    except Exception as exc:
        tally.failures.append(Failure.of(exc))
    return tally


def register(sub: Any) -> None:
    p = sub.add_parser("fuzz", help="Fuzz the input entry points (hypothesis); exit 1 on any unexpected "
                                    "exception.")
    p.add_argument("targets", nargs="*", help=f"Targets (default: all): {', '.join(TARGETS)}.")
    p.add_argument("-n", type=int, default=10000, help="Inputs per target (default 10000).")
    p.add_argument("--seed", type=int, help="Hypothesis seed (reproducible runs; hypothesis neither "
                                             "replays nor keeps examples in its database then).")
    p.add_argument("--database", type=Path, default=None, metavar="DIR",
                   help="Example database: failing inputs kept and replayed first next time "
                        "(default $XDG_CACHE_HOME/arca/fuzz, i.e. ~/.cache/arca/fuzz).")
    p.add_argument("--no-database", action="store_true", help="Keep and replay no failing inputs.")
    p.set_defaults(func=cmd_fuzz)


def cmd_fuzz(args: argparse.Namespace) -> int:
    try:
        import hypothesis  # noqa: F401
    except ModuleNotFoundError:
        raise CliError("arca fuzz needs hypothesis (pip install 'arca[dev]')") from None
    if args.n < 1:
        raise CliError("-n must be at least 1")
    targets = args.targets or list(TARGETS)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise CliError(f"unknown fuzz target(s) {unknown}; known: {', '.join(TARGETS)}")
    database = None if args.no_database else (args.database or default_database())
    logging.disable(logging.WARNING)  # refusals log a warning each: the tally says it once
    total = 0
    for target in targets:
        start = time.monotonic()
        tally = run_target(target, args.n, args.seed, database)
        took = time.monotonic() - start
        total += len(tally.failures)
        print(f"{target:7s} inputs={tally.inputs} accepted={tally.accepted} refused={tally.refused} "
              f"unexpected={len(tally.failures)} ({took:.0f}s)", flush=True)
        for failure in tally.failures:
            text = f"{failure.error}\n{failure.example}\n{failure.trace}"
            print("    " + text.replace("\n", "\n    "))
    if total and database is not None and args.seed is None:
        print(f"failing inputs kept in {database}: the next run replays them first")
    return 1 if total else 0
