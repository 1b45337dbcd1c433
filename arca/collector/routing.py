"""Which controlled systems an input concerns, by the policies' subscriptions (one collector, many systems).

With ``collector.routing = "policies"`` the collector reads every stored policy (``arca.policy``,
reloaded on ``PolicyUpdated``) and routes each input to the systems subscribed to it, as the
analyzer judges which events concern a system (``Policy.listens_to``):

* a detector event goes to every system whose policy listens to its ``source``
  (``arca:listensToSource``) or its domain (``arca:listensToDomain``; the event's domain is its
  payload's ``location``, else its ``context``). A policy that lists neither listens to every event;
* load-balancer statistics go to every system whose policy lists the LB's domain
  (``collector.haproxy_domains``): observations of one LB are not every system's load;
* OSM alarms go to the system ``collector.osm_ns_systems`` maps their NS instance to.

An input that concerns no system is refused with reason ``unrouted`` and counted (never silently
dropped). With the default ``routing = "system"`` every input belongs to ``collector.system``.
"""

from __future__ import annotations

from collections.abc import Mapping

from arca.policy import Policy

MEMO_MAX = 4096
"""(source, domain) pairs whose systems a ``Router`` remembers (then it starts over)."""


class Router:
    """The systems of the stored policies and what each listens to.

    A router is built from the policies and replaced, never changed, when they change (the service
    builds a new one on ``PolicyUpdated``); the systems of each (source, domain) an event names are
    therefore computed once per router — a detector's events all name the same few — instead of
    asking every policy for every event (one ``listens_to`` per system per event)."""

    def __init__(self, policies: Mapping[str, Policy] | None = None) -> None:
        self.policies = dict(policies or {})
        self._memo: dict[tuple[str | None, str | None], tuple[str, ...]] = {}

    def systems_for_event(self, source: str | None, domain: str | None) -> list[str]:
        """Systems whose policy listens to an event from ``source`` about ``domain`` (sorted)."""
        key = (source, domain)
        systems = self._memo.get(key)
        if systems is None:
            systems = tuple(sorted(s for s, p in self.policies.items() if p.listens_to(source, domain)))
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            self._memo[key] = systems
        return list(systems)

    def systems_for_domain(self, domain: str | None) -> list[str]:
        """Systems whose policy names ``domain`` among its domains (LB statistics; sorted)."""
        if domain is None:
            return []
        return sorted(s for s, p in self.policies.items() if domain in p.domains)
