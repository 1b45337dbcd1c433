"""Lossless conversion between message models and RDF graphs (N-Triples on the wire, pyoxigraph).

A message is one node ``<urn:uuid:ID>`` typed ``arca:<Type>``; each non-``None`` field is one
triple ``arca:<camelName>`` with a typed literal (xsd:string, integer, double, boolean, dateTime).
A field holding a tuple of sub-models (``Situation.incidents``) is one object property
(``arca:activeIncident``) per item, pointing to a node of the sub-model's class (``arca:Incident``)
with its own literal triples. That node is named by its content, ``<PREFIX + hash of its
literals>`` (``node_iri``; the prefix is the sub-model's ``rdf_node_prefix``), not by the message:
every situation that carries the same incident refers to the same node, so the knowledge base holds
it once however many situations carry it. Items are kept in the model's canonical order, so the
wire form is stable.
Decoding is strict: anything that is not exactly such a graph raises ``MessageError`` whose text
names the offending triple or property, so the bus can dead-letter it with a readable reason.
"""

from __future__ import annotations

import hashlib
import threading
import types
import typing
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, get_args, get_origin

import pyoxigraph as ox
from pydantic import BaseModel, ValidationError

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


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The sub-model of a ``tuple[SubModel, ...]`` field (None for scalar fields)."""
    if get_origin(annotation) is tuple:
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    return None


def nested_property(cls: type[BaseModel], name: str) -> str:
    """Local name of the object property of a nested field (``json_schema_extra['rdf_property']``)."""
    extra = cls.model_fields[name].json_schema_extra
    prop = extra.get("rdf_property") if isinstance(extra, dict) else None
    return str(prop) if prop else camel(name)


@cache
def _schema(cls: type[BaseModel]) -> dict[str, tuple[str, type]]:
    """predicate IRI -> (field name, scalar type) for the literal fields of a model."""
    return {
        ARCA_NS + camel(name): (name, _scalar_type(field.annotation))
        for name, field in cls.model_fields.items()
        if name != "message_id" and nested_model(field.annotation) is None
    }


@cache
def _nested(cls: type[BaseModel]) -> dict[str, tuple[str, type[BaseModel]]]:
    """predicate IRI -> (field name, sub-model) for the nested fields of a model."""
    out: dict[str, tuple[str, type[BaseModel]]] = {}
    for name, field in cls.model_fields.items():
        sub = nested_model(field.annotation)
        if sub is not None:
            out[ARCA_NS + nested_property(cls, name)] = (name, sub)
    return out


def _rdf_class(cls: type[BaseModel]) -> str:
    return str(getattr(cls, "rdf_class", cls.__name__))


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


# N-Triples escapes of a string literal, as oxigraph's serializer writes them (ECHAR where N-Triples
# has one, \\uXXXX for the other control characters): the text encoder below writes the bytes
# ``ox.serialize`` would, tested equal on every message model.
_NT_ESCAPES = {c: f"\\u{c:04X}" for c in (*range(0x20), 0x7F)}
_NT_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r",
                    0x22: '\\"', 0x5C: "\\\\"})
_NT_DATATYPE = {kind: f"^^<{node.value}>" for kind, node in _XSD.items() if kind is not str}


def _literal_nt(value: Any, kind: type) -> str:
    """The N-Triples form of ``_literal(value, kind)`` (``str()`` of that ``ox.Literal``), written out."""
    if kind is bool:
        text = "true" if value else "false"
    elif kind is int:
        text = str(int(value))
    elif kind is float:
        text = repr(float(value))
    elif kind is datetime:
        offset = value.utcoffset()
        if offset is not None and offset.total_seconds() % 60:
            value = value.astimezone(UTC)
        text = value.isoformat()
    else:
        return '"' + str(value).translate(_NT_ESCAPES) + '"'
    return '"' + text + '"' + _NT_DATATYPE[kind]


def node_prefix(cls: type[BaseModel]) -> str:
    """The IRI prefix of the nodes of a nested sub-model (its ``rdf_node_prefix``)."""
    prefix = getattr(cls, "rdf_node_prefix", None)
    if not prefix:
        raise TypeError(f"{cls.__name__} nested in a message needs an rdf_node_prefix")
    return str(prefix)


def node_iri(item: BaseModel) -> str:
    """The content IRI of a nested item: its prefix + a SHA-256 of its literal triples (predicate and
    literal form, sorted), so equal items share one node and a changed item gets another."""
    return node_prefix(type(item)) + _content_hash(item)


def _content_hash(item: BaseModel) -> str:
    """SHA-256 (32 hex) of an item's "predicate-IRI literal" lines, sorted (the literal in N-Triples form)."""
    canon = "\n".join(sorted(f"{pred} {_literal_nt(value, kind)}"
                             for pred, name, kind in _text_predicates(type(item))
                             if (value := getattr(item, name)) is not None))
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def to_triples(message: Message) -> list[ox.Triple]:
    """The RDF graph of a message."""
    node = ox.NamedNode(_MESSAGE_PREFIX + message.message_id)
    triples = [ox.Triple(node, _RDF_TYPE, ox.NamedNode(ARCA_NS + type(message).__name__))]
    _literals(node, message, triples)
    for predicate, (_name, sub) in _nested(type(message)).items():
        for item in getattr(message, _name):
            child = ox.NamedNode(node_iri(item))
            triples.append(ox.Triple(node, ox.NamedNode(predicate), child))
            triples.append(ox.Triple(child, _RDF_TYPE, ox.NamedNode(ARCA_NS + _rdf_class(sub))))
            _literals(child, item, triples)
    return triples


@cache
def _predicates(cls: type[BaseModel]) -> tuple[tuple[ox.NamedNode, str, type], ...]:
    """(predicate node, field name, scalar type) of the literal fields: the IRIs checked once."""
    return tuple((ox.NamedNode(p), name, kind) for p, (name, kind) in _schema(cls).items())


@cache
def _text_predicates(cls: type[BaseModel]) -> tuple[tuple[str, str, type], ...]:
    """(predicate IRI, field name, scalar type) of the literal fields, the IRIs checked once."""
    return tuple((node.value, name, kind) for node, name, kind in _predicates(cls))


def to_ntriples(message: Message) -> str:
    """The N-Triples text of ``to_triples(message)``, in its order, written without building the graph
    (the bus encodes every message it publishes: a third of the cost was building ``ox.Triple`` objects).

    The message node's IRI is still checked by oxigraph (``ox.NamedNode``: a message id that makes no
    IRI raises ``ValueError``); every other IRI is the ontology's own, checked once per type.
    """
    subject = str(ox.NamedNode(_MESSAGE_PREFIX + message.message_id))
    cls = type(message)
    lines = [f"{subject} <{RDF_TYPE}> <{ARCA_NS}{cls.__name__}> .\n"]
    for pred, name, kind in _text_predicates(cls):
        value = getattr(message, name)
        if value is not None:
            lines.append(f"{subject} <{pred}> {_literal_nt(value, kind)} .\n")
    for predicate, (name, sub) in _nested(cls).items():
        type_line = f" <{RDF_TYPE}> <{ARCA_NS}{_rdf_class(sub)}> .\n"
        prefix = node_prefix(sub)
        for item in getattr(message, name):
            child = f"<{prefix}{_content_hash(item)}>"
            lines.append(f"{subject} <{predicate}> {child} .\n")
            lines.append(child + type_line)
            for pred, field_name, kind in _text_predicates(sub):
                value = getattr(item, field_name)
                if value is not None:
                    lines.append(f"{child} <{pred}> {_literal_nt(value, kind)} .\n")
    return "".join(lines)


def _literals(node: ox.NamedNode, model: BaseModel, out: list[ox.Triple]) -> None:
    for predicate, name, kind in _predicates(type(model)):
        value = getattr(model, name)
        if value is not None:
            out.append(ox.Triple(node, predicate, _literal(value, kind)))


_RECENT_MAX = 64
_recent: dict[int, tuple[Message, bytes]] = {}
_recent_lock = threading.Lock()


def encode(message: Message) -> bytes:
    """Serialise a message to N-Triples bytes, once per message object.

    A message is encoded for the bus and again for the knowledge base (``store_message``): the
    bytes of the last few messages are kept by object identity (the entry holds the message, so
    its id cannot be reused while it is there; messages are frozen, so the bytes stay true).
    """
    key = id(message)
    hit = _recent.get(key)
    if hit is not None and hit[0] is message:
        return hit[1]
    body = _encode(message)
    with _recent_lock:
        _recent[key] = (message, body)
        while len(_recent) > _RECENT_MAX:
            del _recent[next(iter(_recent))]
    return body


def _encode(message: Message) -> bytes:
    if type(message).__name__ not in MESSAGE_TYPES:
        raise MessageError(f"{type(message).__name__} is not a registered message type")
    try:
        return to_ntriples(message).encode()
    except (ValueError, UnicodeEncodeError, OverflowError) as exc:  # e.g. lone surrogates in a string
        raise MessageError(f"cannot serialise {type(message).__name__}: {exc}") from exc


def _python(lit: ox.Literal, kind: type, pred: str) -> Any:
    want = _XSD[kind]
    if lit.datatype != want:
        raise MessageError(f"{_where(pred)}: expected a literal of {want.value}, got {lit.datatype.value}")
    text = lit.value
    if kind is str:
        return text
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
        raise MessageError(f"{_where(pred)}: {text!r} is not a valid {want.value}") from exc
    return text


def _where(pred: str) -> str:
    return f"arca:{pred.removeprefix(ARCA_NS)}" if pred.startswith(ARCA_NS) else f"<{pred}>"


_Stmt = tuple[str, Any]
"""(predicate IRI, object) of one triple of a node: the predicate read from oxigraph once."""


def _literal_values(cls: type[BaseModel], stmts: list[_Stmt], label: str,
                    values: dict[str, Any], skip: set[str]) -> None:
    """Fill ``values`` from the literal triples of one node of model ``cls`` (``skip``: handled elsewhere)."""
    schema = _schema(cls)
    for pred, obj in stmts:
        if pred == RDF_TYPE or pred in skip:
            continue
        field = schema.get(pred)
        if field is None:
            raise MessageError(f"{_where(pred)} is not a property of {label}")
        name, kind = field
        if name in values:
            raise MessageError(f"{_where(pred)} appears more than once")
        if not isinstance(obj, ox.Literal):
            raise MessageError(f"{_where(pred)}: expected a literal, got {obj}")
        values[name] = _python(obj, kind, pred)


def _one_type(subject: Any, stmts: list[_Stmt]) -> str:
    types_ = [obj for pred, obj in stmts if pred == RDF_TYPE]
    if len(types_) != 1 or not isinstance(types_[0], ox.NamedNode):
        raise MessageError(f"{subject} needs exactly one rdf:type, found {len(types_)}")
    return types_[0].value


def _loc(cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """``arca:prop`` (or ``arca:activeIncident[K] arca:prop``) of a validation error location."""
    if not loc:
        return ""
    name = str(loc[0])
    if name in cls.model_fields and nested_model(cls.model_fields[name].annotation) is not None:
        head = f"arca:{nested_property(cls, name)}"
        if len(loc) >= 3:
            return f"{head}[{loc[1]}] arca:{camel(str(loc[2]))}"
        return head
    return f"arca:{camel(name)}"


def from_triples(triples: typing.Iterable[ox.Triple | ox.Quad]) -> Message:
    """Build the typed message from its RDF graph; strict (see module docstring)."""
    by_subject: dict[ox.NamedNode | ox.BlankNode, list[_Stmt]] = {}
    for t in triples:
        subject = t.subject
        if isinstance(subject, ox.Triple):  # RDF-star quoted triple subject
            raise MessageError("quoted triples are not allowed in messages")
        by_subject.setdefault(subject, []).append((t.predicate.value, t.object))
    if not by_subject:
        raise MessageError("empty graph: no message node")
    prefixes = _node_prefixes()
    roots = [s for s in by_subject
             if not (isinstance(s, ox.NamedNode) and ("#" in s.value or s.value.startswith(prefixes)))]
    if len(roots) != 1:
        names = ", ".join(sorted(str(s) for s in roots or by_subject))
        raise MessageError(f"a message graph has exactly one message node, found {len(roots)}: {names}")
    subject = roots[0]
    stmts = by_subject[subject]
    if not isinstance(subject, ox.NamedNode) or not subject.value.startswith(_MESSAGE_PREFIX):
        raise MessageError(f"message node {subject} is not a urn:uuid: IRI")
    type_iri = _one_type(subject, stmts)
    cls = MESSAGE_TYPES.get(type_iri.removeprefix(ARCA_NS)) if type_iri.startswith(ARCA_NS) else None
    if cls is None:
        raise MessageError(f"unknown message type <{type_iri}>")
    values: dict[str, Any] = {"message_id": subject.value.removeprefix(_MESSAGE_PREFIX)}
    nested = _nested(cls)
    _literal_values(cls, stmts, f"arca:{cls.__name__}", values, set(nested))
    used = {subject}
    nodes: dict[str, list[ox.NamedNode]] = {}
    for pred, (name, sub) in nested.items():
        where = _where(pred)
        items = []
        for p, child in stmts:
            if p != pred:
                continue
            if not (isinstance(child, ox.NamedNode) and child.value.startswith(node_prefix(sub))):
                raise MessageError(f"{where}: expected a node <{node_prefix(sub)}...>, got {child}")
            if child in used:
                raise MessageError(f"{where}: node {child} appears more than once")
            used.add(child)
            child_stmts = by_subject.get(child, [])
            want = ARCA_NS + _rdf_class(sub)
            if not child_stmts or _one_type(child, child_stmts) != want:
                raise MessageError(f"{where}: node {child} needs rdf:type arca:{_rdf_class(sub)}")
            child_values: dict[str, Any] = {}
            _literal_values(sub, child_stmts, f"arca:{_rdf_class(sub)} ({where})", child_values, set())
            items.append((child, child_values))
        values[name] = [v for _c, v in items]
        nodes[name] = [c for c, _v in items]
    stray = [str(s) for s in by_subject if s not in used]
    if stray:
        raise MessageError(f"nodes not referenced by the message: {', '.join(sorted(stray))}")
    try:
        message = cls.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_loc(cls, tuple(e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
        raise MessageError(f"invalid arca:{cls.__name__}: {problems}") from exc
    for name, children in nodes.items():  # a node is named by its content: a stale name is refused
        named = {c.value for c in children}
        for item in getattr(message, name):
            if node_iri(item) not in named:
                raise MessageError(f"arca:{nested_property(cls, name)}: no node is named by the content "
                                   f"of {item!r} ({node_iri(item)})")
    return message


@cache
def _node_prefixes() -> tuple[str, ...]:
    """The IRI prefixes of every nested node of every message type (such a node is never a root)."""
    return tuple(sorted({node_prefix(sub) for cls in MESSAGE_TYPES.values()
                         for _name, sub in _nested(cls).values()}))


def decode(data: bytes | str) -> Message:
    """Parse N-Triples bytes into the typed message; raises ``MessageError`` naming the problem."""
    try:
        triples = list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
    except SyntaxError as exc:
        raise MessageError(f"not N-Triples: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"unreadable payload: {exc}") from exc
    return from_triples(triples)
