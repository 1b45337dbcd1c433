"""What the load taught the decider about each event source: its false alarms and its severity errors.

Beside the analyzer's credibility (``arca.trust``: a source's reported severity weighed down by how
often the load confirmed it), the decider keeps, per system and source, a ``SourceRecord`` of what the
load showed of the source's incidents (issue 23, item 5):

* ``confirmed`` / ``false_alarms``: incidents whose load rose (``confirmed_once``) or that ended as
  not confirmed by load (``loop.confirmed_by_load``);
* ``raised`` / ``lowered`` and ``up_steps`` / ``down_steps``: incidents whose severity the load
  assessed above / below the reported one (``loop.assessed_by_load``), and by how many steps in all.

Pure rules over it:

* ``suspect``: a source with at least one false alarm and no more confirmed incidents than false
  alarms must show more of the expected rise at its first telemetry round to be kept
  (``rise_needed``: ``SUSPECT_RISE`` of the expected rise, ``CLEAN_RISE`` for other sources);
* ``calibrated``: a source whose severities the load corrected in one direction at least
  ``CALIBRATE_AFTER`` times more than in the other has its reported severity moved by its mean
  correction in that direction (rounded half up), within ``[1, highest known severity]``; a downward
  calibration is never applied while the load already needs more than the default (never below what
  the load shows; the load's assessment moves it back up if its curve falls short later, and that
  correction counts against the calibration). A source that errs both ways about as often is not
  calibrated: each of its incidents is assessed by the load at its first telemetry rounds.

Records are kept in the knowledge base (``arca:SourceRecord`` in graph
``arca:graph/source-record/<system>/<source>``), loaded when the decider takes a system over, and
reported by the gauges ``arca_source_false_alarms`` / ``arca_source_confirmed_incidents`` /
``arca_source_severity_calibration{direction}`` and by the decision's reason when they act.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS

SOURCE_RECORD_GRAPH_PREFIX = f"{ARCA_NS}graph/source-record/"

CLEAN_RISE = 0.25
"""Share of the rise the model expects at a telemetry round that the load must show for an incident of
a source without a false-alarm record to be kept (``loop.confirmed_by_load``)."""
SUSPECT_RISE = 0.5
"""The same share for a ``suspect`` source (its false alarms at least as many as its confirmed ones)."""
CALIBRATE_AFTER = 2
"""Corrections in one direction before a source's severities are calibrated in that direction."""


@dataclass(frozen=True)
class SourceRecord:
    """What the load showed of one source's incidents (for one system)."""

    source: str
    confirmed: int = 0
    false_alarms: int = 0
    raised: int = 0
    """Incidents whose severity the load assessed above the reported one."""
    lowered: int = 0
    """Incidents whose severity the load assessed below the reported one."""
    up_steps: int = 0
    """Severity steps the load added in all (over ``raised``)."""
    down_steps: int = 0
    """Severity steps the load removed in all (over ``lowered``)."""

    @property
    def up(self) -> int:
        """Mean upward correction in whole steps (half up; 0 when never raised)."""
        return math.floor(self.up_steps / self.raised + 0.5) if self.raised else 0

    @property
    def down(self) -> int:
        """Mean downward correction in whole steps (half up; 0 when never lowered)."""
        return math.floor(self.down_steps / self.lowered + 0.5) if self.lowered else 0


Records = Mapping[str, SourceRecord]


def record_of(records: Records, source: str) -> SourceRecord:
    """The source's record (an empty one for a source never seen)."""
    return records.get(source) or SourceRecord(source)


def suspect(record: SourceRecord) -> bool:
    """A source with a false alarm on record and no more confirmed incidents than false alarms."""
    return record.false_alarms > 0 and record.false_alarms >= record.confirmed


def rise_needed(record: SourceRecord) -> float:
    """Share of the expected rise its incident's first rounds must show (``SUSPECT_RISE`` if suspect)."""
    return SUSPECT_RISE if suspect(record) else CLEAN_RISE


def with_false_alarm(record: SourceRecord) -> SourceRecord:
    return replace(record, false_alarms=record.false_alarms + 1)


def with_confirmed(record: SourceRecord) -> SourceRecord:
    return replace(record, confirmed=record.confirmed + 1)


def with_assessment(record: SourceRecord, before: int, after: int, first: bool) -> SourceRecord:
    """The record after the load moved an incident's severity from ``before`` to ``after``; ``first``:
    the first move of this incident (it counts one incident in its direction; later moves only steps)."""
    if after > before:
        return replace(record, raised=record.raised + (1 if first else 0),
                       up_steps=record.up_steps + after - before)
    if after < before:
        return replace(record, lowered=record.lowered + (1 if first else 0),
                       down_steps=record.down_steps + before - after)
    return record


def calibrated(severity: int, record: SourceRecord, highest: int, load_rising: bool) -> tuple[int, str]:
    """The severity an incident reported at ``severity`` by the record's source is anticipated as, and
    why (empty when it is the reported one). ``highest``: the highest severity the model knows;
    ``load_rising``: the load already needs more than the default (no downward calibration then).

    Up when the load raised the source's incidents at least ``CALIBRATE_AFTER`` more times than it
    lowered them, down in the mirror case: a calibration the load keeps correcting back cancels itself."""
    if record.raised - record.lowered >= CALIBRATE_AFTER:
        level = min(max(severity, highest), severity + record.up)
        if level != severity:
            return level, (f"source {record.source} reports low (the load raised {record.raised}, lowered "
                           f"{record.lowered} of its incidents, +{record.up} on average): severity "
                           f"{severity} calibrated to {level}")
    if record.lowered - record.raised >= CALIBRATE_AFTER and not load_rising:
        level = max(1, severity - record.down)
        if level != severity:
            return level, (f"source {record.source} reports high (the load lowered {record.lowered}, raised "
                           f"{record.raised} of its incidents, -{record.down} on average): severity "
                           f"{severity} calibrated to {level}")
    return severity, ""


# -- knowledge base ---------------------------------------------------------------------------------
_FIELDS = {"confirmed": "incidentsConfirmedByLoad", "false_alarms": "falseAlarms",
           "raised": "severitiesRaised", "lowered": "severitiesLowered", "up_steps": "severityStepsUp",
           "down_steps": "severityStepsDown"}


def record_graph(system: str, source: str) -> IRI:
    return arca_iri("graph/source-record", f"{system}/{source}")


def store_record(kb: KnowledgeBase, system: str, record: SourceRecord) -> None:
    """Replace the stored record of ``record.source`` for ``system`` (buffered)."""
    node = arca_iri("source-record", f"{system}/{record.source}")
    props = " ; ".join(f"arca:{prop} ${name}" for name, prop in _FIELDS.items())
    values = {name: int(getattr(record, name)) for name in _FIELDS}
    kb.submit("DROP SILENT GRAPH $g ; INSERT DATA { GRAPH $g { $n a arca:SourceRecord ; "
              f"arca:system $system ; arca:forSource $source ; {props} }} }}",
              g=record_graph(system, record.source), n=node, system=system, source=record.source, **values)


def load_records(kb: KnowledgeBase, system: str) -> dict[str, SourceRecord]:
    """Every stored source record of ``system``, by source."""
    return load_all_records(kb, system).get(system, {})


def load_all_records(kb: KnowledgeBase, system: str | None = None) -> dict[str, dict[str, SourceRecord]]:
    """Every system's stored source records (or one ``system``'s), by system then source, in one query."""
    names = list(_FIELDS)
    select = " ".join(f"?{n}" for n in names)
    pattern = " ; ".join(f"arca:{_FIELDS[n]} ?{n}" for n in names)
    which = "$system" if system is not None else "?sys"
    rows = kb.query(f"SELECT ?sys ?src {select} WHERE {{ GRAPH ?g {{ ?n a arca:SourceRecord ; "
                    f"arca:system {which} ; arca:forSource ?src ; {pattern} }} "
                    "FILTER(STRSTARTS(STR(?g), $prefix)) }",
                    prefix=SOURCE_RECORD_GRAPH_PREFIX, **({"system": system} if system is not None else {}))
    out: dict[str, dict[str, SourceRecord]] = {}
    for r in rows:
        source = str(r["src"])
        owner = system if system is not None else str(r["sys"])
        out.setdefault(owner, {})[source] = SourceRecord(source, **{n: int(r[n]) for n in names})
    return out


def changed(before: Records, after: Iterable[SourceRecord]) -> tuple[SourceRecord, ...]:
    """The records of ``after`` that differ from ``before`` (what to store)."""
    return tuple(r for r in after if before.get(r.source) != r)
