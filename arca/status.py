"""``arca status``: what every controlled system looks like now, read from the knowledge base.

The analyzer, decider and enforcer store the messages they publish (``arca.kb.messages``); this
module reads the latest Situation, the last Decisions and the latest Enforcement of each system and
turns them into one document (``collect``), rendered as text for the live terminal view or printed
as JSON for scripts. The active incident is the decider's: announced and not expired by the very
rule (``arca.incidents``) and policy value (``expirationSeconds``) the decider uses, not the
analyzer's longer memory of it. The JSON schema is stable and versioned (``SCHEMA``);
``docs/ops.md`` documents every field. Nothing here writes to the store.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

from arca.incidents import announced, expired, expires_at
from arca.kb import KnowledgeBase
from arca.kb.messages import graph_of, load_messages
from arca.messages import Decision, Enforcement, Situation
from arca.policy import Policy, PolicyError, load_policy

SCHEMA = "arca.status/1"
"""Identifier of the JSON document's schema (bumped on any incompatible change)."""

_SYSTEM_GRAPHS = ("situation", "decision", "enforcement")


def controlled_systems(kb: KnowledgeBase) -> list[str]:
    """Every system that has a stored situation, decision or enforcement, sorted."""
    rows = kb.query(
        "SELECT DISTINCT ?s WHERE { VALUES ?g { $g1 $g2 $g3 } GRAPH ?g { ?m arca:system ?s } } "
        "ORDER BY ?s",
        **{f"g{i}": graph_of(kind) for i, kind in enumerate(_SYSTEM_GRAPHS, start=1)},
    )
    return [str(row["s"]) for row in rows]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _incident(situation: Situation | None, now: datetime, expiration_s: float) -> dict[str, Any] | None:
    """The latest incident of ``situation`` the decider still anticipates at ``now``: announced and
    not expired, by the decider's own rule (``arca.incidents``) and policy value (``expiration_s``)."""
    if situation is None:
        return None
    alive = [i for i in announced(situation) if not expired(i.onset, now, expiration_s)]
    if not alive:
        return None
    inc = max(alive, key=lambda i: (i.onset, i.severity))
    return {
        "id": inc.incident_id,
        "source": inc.source,
        "severity": inc.severity,
        "onset": _iso(inc.onset),
        "elapsed_s": round((now - inc.onset).total_seconds(), 3),
        "elapsed_s_at_situation": round((situation.event_time - inc.onset).total_seconds(), 3),
        "detected_from_load": inc.detected_from_load,
        "expires_at": _iso(expires_at(inc.onset, expiration_s)),
    }


def _expired_incidents(situation: Situation | None, now: datetime,
                       expiration_s: float) -> list[dict[str, Any]]:
    """The incidents the latest situation still reports but the decider no longer anticipates."""
    if situation is None:
        return []
    return [{"id": i.incident_id, "source": i.source, "severity": i.severity, "onset": _iso(i.onset),
             "expired_at": _iso(expires_at(i.onset, expiration_s))}
            for i in announced(situation) if expired(i.onset, now, expiration_s)]


def _expiration(kb: KnowledgeBase, system: str) -> float:
    """``arca:expirationSeconds`` of the system's policy, as the decider reads it (its default
    ``Policy`` when the system has none or an invalid one)."""
    try:
        policy = load_policy(kb, system)
    except PolicyError:
        policy = None
    return (policy or Policy(system=system)).expiration_s


def _decision(d: Decision) -> dict[str, Any]:
    return {
        "time": _iso(d.event_time),
        "target_servants": d.target_servants,
        "msa": d.msa,
        "strategy": d.strategy,
        "rule": d.rule,
        "reason": d.reason,
        "clipped": d.clipped,
        "correlation_id": d.correlation_id,
    }


def _enforcement(e: Enforcement | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "time": _iso(e.event_time),
        "action": e.action,
        "driver": e.driver,
        "outcome": e.outcome,
        "desired_servants": e.desired_servants,
        "active_servants": e.active_servants,
        "booting_servants": e.booting_servants,
        "standby_servants": e.standby_servants,
        "detail": e.detail,
        "correlation_id": e.correlation_id,
    }


def system_status(kb: KnowledgeBase, system: str, now: datetime, decisions: int = 5) -> dict[str, Any]:
    """The status document of one system (see ``docs/ops.md`` for the fields)."""
    situations = load_messages(kb, Situation, system, 1)
    situation = situations[0] if situations else None
    recent = load_messages(kb, Decision, system, max(decisions, 1))
    latest_decision = recent[0] if recent else None
    enforcements = load_messages(kb, Enforcement, system, 20)
    expiration_s = _expiration(kb, system)
    refusals = [e for e in enforcements if e.outcome == "skipped" and e.detail.startswith("refused by")]
    return {
        "system": system,
        "as_of": _iso(situation.event_time) if situation else None,
        "load": {
            "average": situation.average_load if situation else None,
            "discard_ratio": situation.discard_ratio if situation else None,
        },
        "servants": {
            "desired": latest_decision.target_servants if latest_decision else None,
            "active": situation.servants_active if situation else None,
            "booting": situation.servants_booting if situation else None,
            "msa": latest_decision.msa if latest_decision else None,
            "standby": enforcements[0].standby_servants if enforcements else None,
            "standby_desired": latest_decision.standby_servants if latest_decision else None,
        },
        "discard_objective": {
            "objective": latest_decision.discard_objective if latest_decision else None,
            "measured": latest_decision.discard_measured if latest_decision else None,
        },
        "incident": _incident(situation, now, expiration_s),
        "expired_incidents": _expired_incidents(situation, now, expiration_s),
        "expiration_s": expiration_s,
        "last_decisions": [_decision(d) for d in recent[:decisions]],
        "last_enforcement": _enforcement(enforcements[0] if enforcements else None),
        "recent_refusals": [{"time": _iso(e.event_time), "action": e.action, "target": e.target,
                             "detail": e.detail} for e in refusals[:5]],
    }


def sources_status(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Detector trust of every source with a stored credibility (``arca.trust``)."""
    from arca.trust import load_credibility

    return [{"source": c.source, "credibility": c.value, "confirmed": c.confirmed,
             "unconfirmed": c.unconfirmed, "events_refused": c.refused, "set_by": c.by,
             "updated_at": _iso(c.updated_at)} for _, c in sorted(load_credibility(kb).items())]


def collect(kb: KnowledgeBase, systems: list[str] | None = None, now: datetime | None = None,
            decisions: int = 5) -> dict[str, Any]:
    """The status document of ``systems`` (default: every controlled system found in the store)."""
    now = now or datetime.now(UTC)
    names = systems if systems else controlled_systems(kb)
    return {
        "schema": SCHEMA,
        "generated_at": _iso(now),
        "systems": [system_status(kb, name, now, decisions) for name in names],
        "sources": sources_status(kb),
    }


def _fmt(value: object, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec)


def render_text(doc: dict[str, Any], width: int = 100) -> str:
    """The terminal view of a status document (plain text)."""
    lines = [f"ARCA status at {doc['generated_at']}  ({len(doc['systems'])} systems)", ""]
    if not doc["systems"]:
        lines.append("no controlled system has a situation, decision or enforcement in the store yet")
    for s in doc["systems"]:
        sv, load = s["servants"], s["load"]
        lines.append(f"== {s['system']}  (situation of {s['as_of'] or '-'})")
        lines.append(
            f"   load {_fmt(load['average'], '.0%')}   discard {_fmt(load['discard_ratio'], '.2%')}   "
            f"servants desired {_fmt(sv['desired'])} / active {_fmt(sv['active'])} / "
            f"booting {_fmt(sv['booting'])}   MSA {_fmt(sv['msa'])}"
        )
        if sv.get("standby_desired") is not None or sv.get("standby"):
            lines.append(f"   warm pool: standing by {_fmt(sv.get('standby'))} "
                         f"(pool asked {_fmt(sv.get('standby_desired'))})")
        goal = s.get("discard_objective") or {}
        if goal.get("objective") is not None:
            measured = goal.get("measured")
            stands = "-" if measured is None else ("met" if measured <= goal["objective"] else "missed")
            lines.append(f"   discard objective {_fmt(goal['objective'], '.3%')}: "
                         f"{_fmt(measured, '.3%')} so far ({stands})")
        inc = s["incident"]
        if inc is None:
            lines.append("   incident: none")
        else:
            lines.append(
                f"   incident: severity {inc['severity']} from {inc['source'] or '-'} "
                f"({inc['id'] or '-'}), onset {inc['onset'] or '-'}, "
                f"elapsed {_fmt(inc['elapsed_s'], '.1f')} s, expires {inc['expires_at']}"
            )
        for old in s.get("expired_incidents", []):
            lines.append(f"   incident {old['id']} (severity {old['severity']}) expired at "
                         f"{old['expired_at']} (expirationSeconds {s['expiration_s']:g})")
        enf = s["last_enforcement"]
        if enf is not None:
            lines.append(
                f"   last enforcement: {enf['action']} via {enf['driver']} {enf['outcome']} at "
                f"{enf['time']} (desired {enf['desired_servants']}, active {enf['active_servants']}, "
                f"booting {enf['booting_servants']}, standby {enf.get('standby_servants', 0)})"
            )
        for r in s.get("recent_refusals", []):  # the reason in full: it is what the admin must read
            lines.append(f"   refused at {r['time']}: {r['action']} {r.get('target') or ''}".rstrip())
            lines.extend(f"     {chunk}" for chunk in textwrap.wrap(r["detail"], max(20, width - 5)))
        if s["last_decisions"]:
            lines.append("   last decisions:")
        for d in s["last_decisions"]:
            text = (f"     {d['time']}  -> {d['target_servants']} servants (MSA {d['msa']}) "
                    f"[{d['rule']}] {d['reason']}")
            lines.append(text if len(text) <= width else text[: width - 1] + "…")
        lines.append("")
    for src in doc.get("sources", []):
        lines.append(f"source {src['source']}: credibility {src['credibility']:.3f} "
                     f"({src['confirmed']} confirmed, {src['unconfirmed']} unconfirmed incidents, "
                     f"set by {src['set_by']}), {src['events_refused']} events refused by its rate limit")
    return "\n".join(lines)
