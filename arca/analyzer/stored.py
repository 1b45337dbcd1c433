"""The incident nodes a situation may link without describing them again (``store_message(stored=)``).

An incident is a node named by its content (``arca.messages.codec.node_iri``), shared by every
situation that carries it. ``IncidentNodes`` remembers, per system, the incident nodes of the last
situation this analyzer submitted to the store and that situation's event time; the system's next
situation writes only its links to the nodes it shares with that one, when that one is younger
than half the situation retention's ``max_age_s`` (``kb.retention.situation``).

Why those nodes are in the store when the new situation is applied: retention deletes an incident
node only once no stored situation links to it (``arca.kb.retention.delete``), and the previous
situation links to it. That situation goes
- by age, only when older than ``max_age_s``: a deletion computed before the new situation was
  submitted saw it younger than half that; one computed after is submitted after it, and the
  analyzer's writes and its retention's deletes are applied in the order submitted (one FIFO queue,
  ``arca.kb.durable``), so the new situation, linking the node, is in the store first;
- by count, only behind ``max_count`` (5,000) newer situations of its system, and the next one the
  analyzer writes is the new situation.
The analyzer is the only writer of situations (``sharding = "single"``): when its bus reconnects
another replica may have written meanwhile, so it forgets everything (``forget``), as after a
restart; the next situation of each system then describes its incidents in full.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from arca.messages import Situation
from arca.messages.codec import node_iri


def incident_nodes(situation: Situation) -> frozenset[str]:
    """The IRIs of the incident nodes ``situation`` links to."""
    return frozenset(node_iri(incident) for incident in situation.incidents)


class IncidentNodes:
    """Per system, the incident nodes of the last situation submitted, and its event time."""

    def __init__(self, max_age: timedelta) -> None:
        self.max_age = max_age
        self._last: dict[str, tuple[frozenset[str], datetime]] = {}

    def linkable(self, system: str, nodes: frozenset[str], now: datetime) -> frozenset[str]:
        """Of a new situation's incident ``nodes``, those that need only their links (the module)."""
        last = self._last.get(system)
        if last is None or now - last[1] >= self.max_age / 2:
            return frozenset()
        return last[0] & nodes

    def submitted(self, system: str, nodes: frozenset[str], event_time: datetime) -> None:
        """A situation of ``system`` linking ``nodes`` is submitted: they are there until it is."""
        self._last[system] = (nodes, event_time)

    def forget(self) -> None:
        self._last.clear()
