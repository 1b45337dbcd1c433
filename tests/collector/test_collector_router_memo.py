"""``Router.systems_for_event`` asks the policies once per (source, domain), not once per event.

The answer stays the one every policy gives (``Policy.listens_to``), for sources and domains named
or not; a caller's list is its own; the memory is bounded.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

from arca.collector import routing
from arca.collector.routing import Router
from arca.policy import Policy


class Listening:
    """What a router asks of a policy, counting the questions."""

    def __init__(self, sources: set[str], domains: set[str], asked: list[str], name: str) -> None:
        self.sources, self.domains, self.asked, self.name = sources, domains, asked, name

    def listens_to(self, source: str | None, domain: str | None) -> bool:
        self.asked.append(self.name)
        if not self.sources and not self.domains:
            return True
        return ((source is not None and source in self.sources)
                or (domain is not None and domain in self.domains))


def router(asked: list[str]) -> Router:
    policies = {
        "quake": Listening({"seismo-hq"}, {"hq"}, asked, "quake"),
        "bigdata": Listening({"bd-1", "bd-2"}, set(), asked, "bigdata"),
        "harbour": Listening(set(), {"harbour"}, asked, "harbour"),
        "everything": Listening(set(), set(), asked, "everything"),
    }
    return Router(cast(dict[str, Policy], policies))


SOURCES = ["seismo-hq", "bd-1", "bd-2", "other", None]
DOMAINS = ["hq", "harbour", "elsewhere", None]


def fresh(r: Router, source: str | None, domain: str | None) -> list[str]:
    return sorted(s for s, p in r.policies.items() if p.listens_to(source, domain))


def test_the_answer_is_every_policys_for_each_source_and_domain() -> None:
    r = router([])
    for source, domain in itertools.product(SOURCES, DOMAINS):
        assert r.systems_for_event(source, domain) == fresh(r, source, domain), (source, domain)
        assert r.systems_for_event(source, domain) == fresh(r, source, domain), (source, domain)


def test_each_policy_is_asked_once_per_source_and_domain_however_many_events() -> None:
    asked: list[str] = []
    r = router(asked)
    for _ in range(100):
        assert r.systems_for_event("seismo-hq", "hq") == ["everything", "quake"]
    assert sorted(asked) == ["bigdata", "everything", "harbour", "quake"]  # the old router: 400 questions
    r.systems_for_event("bd-1", None)
    assert len(asked) == 8


def test_a_callers_list_is_its_own() -> None:
    r = router([])
    first = r.systems_for_event("seismo-hq", "hq")
    first.append("intruder")
    assert r.systems_for_event("seismo-hq", "hq") == ["everything", "quake"]


def test_the_memory_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(routing, "MEMO_MAX", 10)
    r = router([])
    for i in range(35):
        assert r.systems_for_event(f"s{i}", "harbour") == ["everything", "harbour"]
    assert len(r._memo) <= 10
