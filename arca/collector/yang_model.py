"""The detector-event YANG data model (yangson), built once from the YANG library shipped in ``yang/``.

yangson validates RFC 7951 JSON instances of the module's notification ``event`` and of its
``events/event-payloads`` subtree; its exceptions are turned into ``IngestError`` naming the path.

yangson is not thread-safe (one 500 in ~80,000 requests at 64 connections was measured with a
shared model), so each thread builds its own data model on first use (~20 ms, a few hundred kB;
the HTTP server's threads are a fixed pool): validation takes no lock and threads never contend.

yangson costs ~170 µs per event (two instances: the notification and its payload, built and
validated by walking the schema), most of an event's validation. ``known_valid_notification`` and
``known_valid_data`` recognise, in a few µs, the common shapes that are certainly valid against the
module — only the module's own member names, each leaf of the JSON type RFC 7951 gives its YANG type,
int64 / uint8 within range, a date-and-time matching the type's pattern, valid base64 — and return
False for anything else, which yangson then validates as before. The shortcut only ever accepts:
every refusal (and its message naming the field) still comes from yangson, and
``tests/collector/test_collector_yang_shortcut.py`` checks that yangson accepts whatever it accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from typing import Any

from yangson import DataModel
from yangson.enumerations import ContentType
from yangson.exceptions import RawDataError, RawTypeError, ValidationError, YangsonException

from arca.collector.errors import IngestError
from arca.namespace import YANG_DIR

MODULE = "ietf-nmrg-nict-resource-anticipation"
NOTIFICATION = f"{MODULE}:event"
YANG_LIBRARY = YANG_DIR / "yang-library.json"


_local = threading.local()


def data_model() -> DataModel:
    """This thread's yangson data model of ``yang/yang-library.json`` (modules looked up in ``yang/``)."""
    model: DataModel | None = getattr(_local, "model", None)
    if model is None:
        model = _local.model = DataModel.from_file(str(YANG_LIBRARY), [str(YANG_DIR)])
    return model


RFC7951_STRINGS = ("int64", "uint64", "decimal64")
"""Numeric types RFC 7951 section 6.1 encodes as JSON strings (a JSON number may lose precision)."""
RFC7951_NUMBERS = ("int8", "int16", "int32", "uint8", "uint16", "uint32")
"""Numeric types RFC 7951 section 6.1 encodes as JSON numbers."""
RFC7951_OTHERS = {
    "string": "a JSON string (RFC 7951 section 6.2)",
    "boolean": "JSON true or false (RFC 7951 section 6.3)",
    "enumeration": "a JSON string naming one of the enum's values (RFC 7951 section 6.4)",
    "binary": "a base64-encoded JSON string (RFC 7951 section 6.6)",
    "empty": "[null] (RFC 7951 section 6.9)",
}


TYPE_HINTS = {
    "date-and-time": '(RFC 3339 with a time-zone offset, e.g. "2026-11-22T02:00:00Z")',
}
"""What a derived string type needs, said in words instead of its pattern."""


def _json_kind(value: object) -> str:
    """How a raw JSON value reads in a message: ``the JSON number 5``, ``the JSON string "5"``..."""
    if isinstance(value, bool):
        return f"JSON {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the JSON number {value}"
    if isinstance(value, str):
        return f"the JSON string {json.dumps(value)}"
    if isinstance(value, dict):
        return "a JSON object"
    return "a JSON array" if isinstance(value, list) else "JSON null"


def _raw_value(document: object, pointer: str) -> object:
    """The raw value at yangson's pointer (``/a/b``, list entries as ``list=key`` or ``list/0``);
    ``_MISSING`` when it cannot be followed."""
    node = document
    for part in (p for p in pointer.split("/") if p):
        name, _, key = part.partition("=")
        if isinstance(node, list):
            node = node[int(name)] if name.isdigit() and int(name) < len(node) else _MISSING
        elif isinstance(node, dict):
            node = node.get(name, node.get(name.split(":", 1)[-1], _MISSING))
        else:
            return _MISSING
        if key and isinstance(node, list):
            node = next((e for e in node if isinstance(e, dict) and key in map(str, e.values())), _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


_MISSING = object()


def rfc7951_expected(yang_type: str, raw: object = _MISSING) -> str:
    """What the JSON encoding of ``yang_type`` is (RFC 7951), and what came instead when known."""
    base = yang_type.removesuffix(" value")
    if base in RFC7951_STRINGS:
        want = (f"an {base} encoded as a JSON string, e.g. \"5\" (RFC 7951 section 6.1: int64, uint64 and "
                "decimal64 values are JSON strings)")
    elif base in RFC7951_NUMBERS:
        article = "an" if base.startswith("i") else "a"
        want = f"{article} {base} encoded as a JSON number, e.g. 5 (RFC 7951 section 6.1)"
    else:
        want = RFC7951_OTHERS.get(base, f"the JSON encoding of a {base} (RFC 7951)")
    return f"expected {want}" + ("" if raw is _MISSING else f", got {_json_kind(raw)}")


def _yang_error(exc: YangsonException, prefix: str, document: object) -> IngestError:
    if isinstance(exc, RawDataError):
        path = exc.path
    elif isinstance(exc, ValidationError):
        path = str(exc.instance.json_pointer())
    else:
        path = ""
    where = f"{prefix}{path.replace(f'{MODULE}:', '')}"
    text = str(exc)
    if isinstance(exc, RawTypeError):  # the JSON type of the value is not the type's RFC 7951 encoding
        text = rfc7951_expected(exc.message.removeprefix("expected "), _raw_value(document, exc.path))
    elif isinstance(exc, RawDataError) and not getattr(exc, "message", None):
        text = "unknown member"
    elif isinstance(exc, ValidationError) and exc.tag == "invalid-type" and (exc.message or "").startswith(
            "expected "):  # the right JSON type, a value outside the type (e.g. over int64's range)
        value = exc.instance.value
        text = f"{json.dumps(str(value)) if isinstance(value, str) else value} is not a valid " \
               f"{exc.message.removeprefix('expected ')} (outside its range)"
    elif isinstance(exc, ValidationError) and exc.tag == "invalid-type" and (exc.message or "").startswith(
            "pattern "):  # a string that does not match its (derived) type's pattern
        kind = getattr(getattr(exc.instance.schema_node, "type", None), "name", None) or "value"
        pattern = str(exc.message).removeprefix("pattern ").rpartition(": ")[0]
        text = f"{json.dumps(str(exc.instance.value))} is not a valid {kind} " + TYPE_HINTS.get(
            kind, f"(it does not match the pattern {pattern})")
    elif isinstance(exc, ValidationError):
        text = f"{exc.tag}: {exc.message}" if exc.message else str(exc.tag)
    return IngestError("yang", where, f"not valid against {MODULE}: {text}")


_DATE_AND_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                            r"(Z|[+-][0-9]{2}:[0-9]{2})")
"""ietf-yang-types' date-and-time pattern, with ASCII digits only (the type's ``\\d`` allows more)."""
_INT64 = re.compile(r"-?[0-9]{1,18}")
"""An int64 in RFC 7951's JSON string that is certainly within range (at most 18 digits)."""
NOTIFICATION_LEAVES = {"id": "string", "source": "string", "context": "string", "sequence": "int64",
                       "timestamp": "date-and-time", "payload": "binary"}
"""The leaves of the ``event`` notification and their YANG types (grouping external-event-information)."""
PAYLOAD_LEAVES = {
    "event-payloads-basic": {"plid": "string", "data": "string"},  # data: union {string; binary}
    "event-payloads-seismometer": {"plid": "string", "location": "string", "magnitude": "uint8"},
    "event-payloads-bigdata": {"plid": "string", "description": "string", "severity": "uint8"},
}
"""The lists of ``events/event-payloads``, their leaves and YANG types (key: ``plid``)."""


def _leaf_ok(kind: str, value: object) -> bool:
    """Whether ``value`` is certainly a valid RFC 7951 value of the YANG type ``kind``."""
    if kind == "uint8":
        return type(value) is int and 0 <= value <= 255
    if type(value) is not str:
        return False
    if kind == "string":
        return True
    if kind == "int64":
        return _INT64.fullmatch(value) is not None
    if kind == "date-and-time":
        return _DATE_AND_TIME.fullmatch(value) is not None
    if kind == "binary":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return False


def known_valid_notification(content: object) -> bool:
    """True when ``content`` (the object under ``<module>:event``) is certainly valid against the
    module; False means "ask yangson" (it may still be valid)."""
    if type(content) is not dict:
        return False
    for name, value in content.items():
        kind = NOTIFICATION_LEAVES.get(name)
        if kind is None or not _leaf_ok(kind, value):
            return False
    return True


def known_valid_data(document: object) -> bool:
    """True when ``document`` is certainly a valid ``{"<module>:events": {"event-payloads": {...}}}``
    data tree (at least one payload list, each non-empty, entries with distinct ``plid`` keys and only
    their list's leaves); False means "ask yangson"."""
    if type(document) is not dict or len(document) != 1:
        return False
    events = document.get(f"{MODULE}:events")
    if type(events) is not dict or len(events) != 1:
        return False
    payloads = events.get("event-payloads")
    if type(payloads) is not dict or not payloads:
        return False
    for name, entries in payloads.items():
        leaves = PAYLOAD_LEAVES.get(name)
        if leaves is None or type(entries) is not list or not entries:
            return False
        keys = set()
        for entry in entries:
            if type(entry) is not dict or type(entry.get("plid")) is not str or entry["plid"] in keys:
                return False
            keys.add(entry["plid"])
            for leaf, value in entry.items():
                kind = leaves.get(leaf)
                if kind is None or not _leaf_ok(kind, value):
                    return False
    return True


def validate_notification(content: dict[str, Any], prefix: str) -> None:
    """Validate the members of one ``event`` notification (the object under ``<module>:event``)."""
    if not known_valid_notification(content):
        yangson_validate(content, prefix, NOTIFICATION)


def validate_data(document: dict[str, Any], prefix: str) -> None:
    """Validate an RFC 7951 data tree of the module (e.g. ``{"<module>:events": {...}}``)."""
    if not known_valid_data(document):
        yangson_validate(document, prefix)


def yangson_validate(document: Any, prefix: str, subschema: str | None = None) -> None:
    """Validate ``document`` with yangson (the notification ``subschema``, else a data tree); raises
    ``IngestError`` naming the failing path under ``prefix``."""
    try:
        inst = (data_model().from_raw(document, subschema=subschema) if subschema
                else data_model().from_raw(document))
        inst.validate(ctype=ContentType.all)
    except YangsonException as exc:
        raise _yang_error(exc, prefix, document) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. yangson decoding a non-base64 binary
        raise IngestError("yang", prefix, f"not valid against {MODULE}: {exc}") from None
