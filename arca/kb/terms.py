"""Safe SPARQL templating: untrusted values become escaped RDF terms, never raw query text.

Templates use ``$name`` placeholders (a ``$`` followed by an identifier); each is replaced by the
term syntax of the bound value: ``IRI`` -> ``<...>`` (checked against the IRIREF grammar),
``str`` -> an escaped string literal, ``int``/``float``/``bool``/``datetime`` -> typed literals.
``check_iri`` is the one IRI check (forbidden IRIREF characters, then a real RFC 3987 parse with
pyoxigraph), used for every graph name an admin or a file supplies, so nothing can close ``<...>``
and continue the query.
A placeholder with no binding, or a binding no placeholder uses, is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyoxigraph as ox

from arca.namespace import ARCA_NS, XSD_NS


class IRI(str):
    """A string that is meant as an IRI (rendered ``<...>``), not as a literal."""

    __slots__ = ()


def arca_iri(kind: str, ident: str) -> IRI:
    """IRI of an ARCA individual, e.g. ``arca_iri("system", "emergency")``; ``ident`` is %-encoded."""
    return IRI(f"{ARCA_NS}{kind}/{_pct(ident)}")


_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")


def _pct(text: str) -> str:
    return "".join(
        c if _UNRESERVED.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in text
    )


_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_PLACEHOLDER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_ESCAPES = {c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)}  # STRING_LITERAL_QUOTE: no raw controls
_ESCAPES.update({0x5C: "\\\\", 0x22: '\\"', 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b",
                 0x0C: "\\f"})  # ECHAR where SPARQL has one
_SURROGATE = re.compile("[\ud800-\udfff]")
_ODD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""What the five common escapes below do not cover: the other controls, and lone surrogates."""


class TermError(ValueError):
    """A value that cannot be rendered as a safe SPARQL term."""


def escape_string(text: str) -> str:
    """A SPARQL STRING_LITERAL_QUOTE for ``text`` (quotes, backslashes, controls escaped; a lone
    surrogate refused). A state saved per decision is a JSON text of kilobytes: escaped character by
    character it was 9 % of the decider's busy samples in a burst, and ``str.translate`` still
    ~190 µs for 5 KB; five ``str.replace`` after one scan for anything rarer take ~31 µs."""
    if _ODD.search(text):
        if _SURROGATE.search(text):
            raise TermError("lone surrogate in string")
        return '"' + text.translate(_ESCAPES) + '"'
    return ('"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t") + '"')


def check_iri(value: str) -> IRI:
    """``value`` as an ``IRI`` if it is an absolute IRI (RFC 3987, parsed by pyoxigraph's oxiri)
    with nothing that could end an IRIREF; raises ``TermError`` naming the problem otherwise."""
    if not isinstance(value, str) or not value:
        raise TermError(f"not an IRI: {value!r}")
    bad = _IRI_FORBIDDEN.search(value)
    if bad:
        raise TermError(f"not a safe absolute IRI: {value!r} (character {bad.group()!r})")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise TermError(f"not a safe absolute IRI: {value!r} (lone surrogate)")
    try:
        ox.NamedNode(value)
    except ValueError as exc:
        raise TermError(f"not a valid absolute IRI: {value!r} ({exc})") from None
    return IRI(value)


def render_term(value: Any) -> str:
    """SPARQL syntax for one value (see module docstring)."""
    if isinstance(value, IRI):
        return f"<{check_iri(value)}>"
    if isinstance(value, bool):
        return f'"{"true" if value else "false"}"^^<{XSD_NS}boolean>'
    if isinstance(value, int):
        return f'"{value}"^^<{XSD_NS}integer>'
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TermError(f"non-finite number {value}")
        return f'"{value!r}"^^<{XSD_NS}double>'
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TermError("naive datetime")
        return f'"{value.isoformat()}"^^<{XSD_NS}dateTime>'
    if isinstance(value, str):
        return escape_string(value)
    raise TermError(f"cannot bind a {type(value).__name__}")


def render(template: str, bindings: Mapping[str, Any] | None = None) -> str:
    """Replace every ``$name`` of ``template`` by the rendered binding."""
    bindings = bindings or {}
    used: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in bindings:
            raise TermError(f"no value bound for ${name}")
        used.add(name)
        return render_term(bindings[name])

    text = _PLACEHOLDER.sub(sub, template)
    unused = set(bindings) - used
    if unused:
        raise TermError(f"bound but unused: {', '.join(sorted(unused))}")
    return text


def from_sparql_json(term: Mapping[str, str]) -> Any:
    """Python value of one term of a SPARQL 1.1 JSON results binding."""
    kind = term["type"]
    value = term["value"]
    if kind == "uri":
        return IRI(value)
    if kind == "bnode":
        return "_:" + value
    return literal_value(value, term.get("datatype"))


def literal_value(value: str, datatype: str | None) -> Any:
    """Python value of a literal given its lexical form and datatype IRI."""
    if datatype is None or datatype == XSD_NS + "string":
        return value
    local = datatype.removeprefix(XSD_NS)
    try:
        if local in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger"):
            return int(value)
        if local in ("double", "float", "decimal"):
            return float(value)
        if local == "boolean":
            return value in ("true", "1")
        if local == "dateTime":
            return datetime.fromisoformat(value)
    except ValueError:
        return value
    return value
