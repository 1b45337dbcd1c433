"""Policy bounds as the enforcer re-checks them: read from the admins' policy in the knowledge base.

The policy vocabulary is the decider's (``ontology/policy.ttl``): a node ``a arca:Policy`` with
``arca:system``, ``arca:minServants``, ``arca:maxServants`` and ``arca:allowedAction`` (names
``scale-out``/``scale-in``/``heal`` or IRIs ``arca:ScaleOut``...), one named graph per system
under ``arca:graph/policy/``. Missing values fall back to the enforcer's settings.
"""

from __future__ import annotations

import logging

from arca.kb import KnowledgeBase
from arca.namespace import ARCA_NS
from enforcer.model import ACTION_CATEGORIES, Bounds

log = logging.getLogger(__name__)

_QUERY = (
    "SELECT ?min ?max ?allowed WHERE { GRAPH ?g { ?p a arca:Policy ; arca:system ?sys . "
    "OPTIONAL { ?p arca:minServants ?min } OPTIONAL { ?p arca:maxServants ?max } "
    "OPTIONAL { ?p arca:allowedAction ?allowed } } FILTER(STR(?sys) = $system) }"
)
_IRI_ACTIONS = {"ScaleOut": "scale-out", "ScaleIn": "scale-in", "Heal": "heal"}


def _action(value: object) -> str:
    text = str(value)
    if text.startswith(ARCA_NS):
        text = _IRI_ACTIONS.get(text[len(ARCA_NS):], text[len(ARCA_NS):])
    return text


def load_bounds(kb: KnowledgeBase, system: str, default: Bounds) -> Bounds:
    """The bounds of ``system``'s policy (``default`` where the policy says nothing)."""
    rows = kb.query(_QUERY, system=system)
    if not rows:
        return default
    mins = {int(r["min"]) for r in rows if r.get("min") is not None}
    maxs = {int(r["max"]) for r in rows if r.get("max") is not None}
    allowed = {_action(r["allowed"]) for r in rows if r.get("allowed") is not None}
    try:
        return Bounds(
            min(mins) if mins else default.min_servants,
            max(maxs) if maxs else default.max_servants,
            frozenset(a for a in allowed if a in ACTION_CATEGORIES) if allowed else default.allowed,
        )
    except ValueError as exc:
        log.error("policy of %s has incoherent bounds (%s): enforcing the defaults", system, exc)
        return default
