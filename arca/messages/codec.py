"""Lossless conversion between message models and RDF graphs (N-Triples on the wire, pyoxigraph).

A message is one node ``<urn:uuid:ID>`` typed ``arca:<Type>``; each non-``None`` field is one
triple ``arca:<camelName>`` with a typed literal (xsd:string, integer, double, boolean, dateTime).
Decoding is strict: anything that is not exactly such a graph raises ``MessageError`` whose text
names the offending triple or property, so the bus can dead-letter it with a readable reason.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, get_args, get_origin

import pyoxigraph as ox
from pydantic import ValidationError

from arca.messages.models import MESSAGE_TYPES, Message
from arca.namespace import ARCA_NS, RDF_TYPE, XSD_NS

CONTENT_TYPE = "application/n-triples"
"""Wire format of every bus message."""

_RDF_TYPE = ox.NamedNode(RDF_TYPE)
_XSD = {
    str: ox.NamedNode(XSD_NS + "string"),
    int: ox.NamedNode(XSD_NS + "integer"),
    float: ox.NamedNode(XSD_NS + "double"),
    bool: ox.NamedNode(XSD_NS + "boolean"),
    datetime: ox.NamedNode(XSD_NS + "dateTime"),
}
_MESSAGE_PREFIX = "urn:uuid:"


class MessageError(ValueError):
    """A bus payload that is not a valid ARCA message; the text says what is wrong."""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _scalar_type(annotation: Any) -> type:
    """The Python scalar type behind an annotation (unwraps Optional and Literal)."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation}")
        return _scalar_type(args[0])
    if origin is Literal:
        return type(get_args(annotation)[0])
    if annotation in _XSD:
        return typing.cast(type, annotation)
    raise TypeError(f"unsupported field type {annotation}")


@cache
def _schema(cls: type[Message]) -> dict[str, tuple[str, type]]:
    """predicate IRI -> (field name, scalar type) for a message class."""
    return {
        ARCA_NS + camel(name): (name, _scalar_type(field.annotation))
        for name, field in cls.model_fields.items()
        if name != "message_id"
    }


def _literal(value: Any, kind: type) -> ox.Literal:
    if kind is bool:
        return ox.Literal("true" if value else "false", datatype=_XSD[bool])
    if kind is int:
        return ox.Literal(str(int(value)), datatype=_XSD[int])
    if kind is float:
        return ox.Literal(repr(float(value)), datatype=_XSD[float])
    if kind is datetime:
        offset = value.utcoffset()
        if offset is not None and offset.total_seconds() % 60:  # xsd:dateTime offsets are hh:mm
            value = value.astimezone(UTC)
        return ox.Literal(value.isoformat(), datatype=_XSD[datetime])
    return ox.Literal(str(value))


def to_triples(message: Message) -> list[ox.Triple]:
    """The RDF graph of a message."""
    node = ox.NamedNode(_MESSAGE_PREFIX + message.message_id)
    triples = [ox.Triple(node, _RDF_TYPE, ox.NamedNode(ARCA_NS + type(message).__name__))]
    for predicate, (name, kind) in _schema(type(message)).items():
        value = getattr(message, name)
        if value is not None:
            triples.append(ox.Triple(node, ox.NamedNode(predicate), _literal(value, kind)))
    return triples


def encode(message: Message) -> bytes:
    """Serialise a message to N-Triples bytes."""
    if type(message).__name__ not in MESSAGE_TYPES:
        raise MessageError(f"{type(message).__name__} is not a registered message type")
    try:
        return typing.cast(bytes, ox.serialize(to_triples(message), format=ox.RdfFormat.N_TRIPLES))
    except (ValueError, UnicodeEncodeError, OverflowError) as exc:  # e.g. lone surrogates in a string
        raise MessageError(f"cannot serialise {type(message).__name__}: {exc}") from exc


def _python(lit: ox.Literal, kind: type, where: str) -> Any:
    want = _XSD[kind]
    if lit.datatype != want:
        raise MessageError(f"{where}: expected a literal of {want.value}, got {lit.datatype.value}")
    text = lit.value
    try:
        if kind is bool:
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is datetime:
            return datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        raise MessageError(f"{where}: {text!r} is not a valid {want.value}") from exc
    return text


def from_triples(triples: typing.Iterable[ox.Triple | ox.Quad]) -> Message:
    """Build the typed message from its RDF graph; strict (see module docstring)."""
    by_subject: dict[ox.NamedNode | ox.BlankNode, list[ox.Triple | ox.Quad]] = {}
    for t in triples:
        if isinstance(t.subject, ox.Triple):  # RDF-star quoted triple subject
            raise MessageError("quoted triples are not allowed in messages")
        by_subject.setdefault(t.subject, []).append(t)
    if not by_subject:
        raise MessageError("empty graph: no message node")
    if len(by_subject) > 1:
        names = ", ".join(sorted(str(s) for s in by_subject))
        raise MessageError(f"a message graph has exactly one subject, found {len(by_subject)}: {names}")
    (subject, stmts), = by_subject.items()
    if not isinstance(subject, ox.NamedNode) or not subject.value.startswith(_MESSAGE_PREFIX):
        raise MessageError(f"message node {subject} is not a urn:uuid: IRI")
    types_ = [t.object for t in stmts if t.predicate == _RDF_TYPE]
    if len(types_) != 1 or not isinstance(types_[0], ox.NamedNode):
        raise MessageError(f"{subject} needs exactly one rdf:type, found {len(types_)}")
    type_iri = types_[0].value
    cls = MESSAGE_TYPES.get(type_iri.removeprefix(ARCA_NS)) if type_iri.startswith(ARCA_NS) else None
    if cls is None:
        raise MessageError(f"unknown message type <{type_iri}>")
    schema = _schema(cls)
    values: dict[str, Any] = {"message_id": subject.value.removeprefix(_MESSAGE_PREFIX)}
    for t in stmts:
        if t.predicate == _RDF_TYPE:
            continue
        pred = t.predicate.value
        where = f"arca:{pred.removeprefix(ARCA_NS)}" if pred.startswith(ARCA_NS) else f"<{pred}>"
        if pred not in schema:
            raise MessageError(f"{where} is not a property of arca:{cls.__name__}")
        name, kind = schema[pred]
        if name in values:
            raise MessageError(f"{where} appears more than once")
        if not isinstance(t.object, ox.Literal):
            raise MessageError(f"{where}: expected a literal, got {t.object}")
        values[name] = _python(t.object, kind, where)
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"arca:{camel(str(e['loc'][0]))}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
        raise MessageError(f"invalid arca:{cls.__name__}: {problems}") from exc


def decode(data: bytes | str) -> Message:
    """Parse N-Triples bytes into the typed message; raises ``MessageError`` naming the problem."""
    try:
        triples = list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
    except SyntaxError as exc:
        raise MessageError(f"not N-Triples: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"unreadable payload: {exc}") from exc
    return from_triples(triples)
