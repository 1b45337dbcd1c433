"""Issue 25 (item 4): every policy value is bounded by what makes sense, in the SHACL shapes and in the
loader's model; the trust maths never overflows for any value the shapes accept (property test,
the bounds read from the shapes themselves); one policy per node, in a file and across the store."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydantic
import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arca.app.cli.main import main
from arca.decider.validation import PolicyInvalid, reused_policy_nodes, validate_admin_file
from arca.namespace import ARCA_NS, ONTOLOGY_DIR
from arca.policy import DAY_S, MAX_COUNT, MAX_SERVANTS, WEEK_S, Policy, load_policies
from arca.trust import (
    Credibility,
    confirmation_end,
    effective_severity,
    judge,
    over_limit,
    trusts_from_graph,
    window_start,
)

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def policy(extra: str, node: str = "urn:p:x", system: str = "x") -> str:
    return HEAD + f'<{node}> a arca:Policy ; arca:system "{system}" ; {extra} .\n'


def trust(extra: str) -> str:
    return HEAD + f'<urn:t:s> a arca:SourceTrust ; arca:forSource "s" ; {extra} .\n'


W = "arca:maxServants 1000 ; "  # room for the other servant amounts (each is <= maxServants)
BOUNDED = [
    # id (the property), the file at its maximum, the file just over it
    ("maxServants", policy("arca:maxServants 1000"), policy("arca:maxServants 1001")),
    ("minServants", policy(W + "arca:minServants 1000 ; arca:defaultServants 1000"),
     policy("arca:maxServants 1000 ; arca:minServants 1001 ; arca:defaultServants 1000")),
    ("defaultServants", policy(W + "arca:defaultServants 1000"),
     policy(W + "arca:defaultServants 1001")),
    ("staticAmount", policy("arca:staticAmount 1000"), policy("arca:staticAmount 1001")),
    ("fallbackServants", policy("arca:fallbackServants 1000"), policy("arca:fallbackServants 1001")),
    ("warmPoolMaxSize", policy(W + "arca:warmPoolMaxSize 1000"),
     policy(W + "arca:warmPoolMaxSize 1001")),
    ("expirationSeconds", policy("arca:expirationSeconds 604800"), policy("arca:expirationSeconds 604800.5")),
    ("guardFrequencyWindowSeconds", policy("arca:guardFrequencyWindowSeconds 604800"),
     policy("arca:guardFrequencyWindowSeconds 604801")),
    ("leadTimeSeconds", policy("arca:leadTimeSeconds 86400"), policy("arca:leadTimeSeconds 86400.5")),
    ("scaleOutCooldownSeconds", policy("arca:scaleOutCooldownSeconds 86400"),
     policy("arca:scaleOutCooldownSeconds 86401")),
    ("scaleInCooldownSeconds", policy("arca:scaleInCooldownSeconds 86400"),
     policy("arca:scaleInCooldownSeconds 86401")),
    ("coolOffSeconds", policy("arca:coolOffSeconds 86400"), policy("arca:coolOffSeconds 86401")),
    ("thresholdTimeSeconds", policy("arca:thresholdTimeSeconds 86400"),
     policy("arca:thresholdTimeSeconds 86401")),
    ("syncPeriodSeconds", policy("arca:syncPeriodSeconds 86400"), policy("arca:syncPeriodSeconds 86401")),
    ("stabilisationSeconds", policy("arca:stabilisationSeconds 86400"),
     policy("arca:stabilisationSeconds 86401")),
    ("scaleUpStabilisationSeconds", policy("arca:scaleUpStabilisationSeconds 86400"),
     policy("arca:scaleUpStabilisationSeconds 86401")),
    ("scaleDownStabilisationSeconds", policy("arca:scaleDownStabilisationSeconds 86400"),
     policy("arca:scaleDownStabilisationSeconds 86401")),
    ("warmPoolLeadTimeSeconds", policy("arca:warmPoolLeadTimeSeconds 86400"),
     policy("arca:warmPoolLeadTimeSeconds 86401")),
    ("discardObjective", policy("arca:discardObjective 1"), policy("arca:discardObjective 1.5")),
    ("telemetryPeriodSeconds", policy("arca:telemetryPeriodSeconds 86400"),
     policy("arca:telemetryPeriodSeconds 86401")),
    ("guardFrequencyLimit", policy("arca:guardFrequencyLimit 1000000"),
     policy("arca:guardFrequencyLimit 1000001")),
    ("fallbackAfterRounds", policy("arca:fallbackAfterRounds 1000000"),
     policy("arca:fallbackAfterRounds 1000001")),
    ("eventLimit", trust("arca:eventLimit 1000000"), trust("arca:eventLimit 1000001")),
    ("eventWindowSeconds", trust("arca:eventWindowSeconds 86400"), trust("arca:eventWindowSeconds 86400.5")),
    ("confirmationSeconds", trust("arca:confirmationSeconds 86400"), trust("arca:confirmationSeconds 86401")),
]


@pytest.mark.parametrize("prop,at_max,over", [c for c in BOUNDED], ids=[c[0] for c in BOUNDED])
def test_each_bounded_value_is_accepted_at_its_maximum_and_refused_over_it(prop: str, at_max: str,
                                                                            over: str) -> None:
    validate_admin_file(at_max, "max.ttl")
    with pytest.raises(PolicyInvalid) as refused:
        validate_admin_file(over, "over.ttl")
    assert f"arca:{prop}" in str(refused.value)


ISSUE = [
    ("window-1e11", trust("arca:eventLimit 5 ; arca:eventWindowSeconds 1e11"), "eventWindowSeconds"),
    ("max-servants-1e9", policy("arca:maxServants 1000000000"), "maxServants"),
    ("expiration-1e308", policy("arca:expirationSeconds 1e308"), "expirationSeconds"),
]


@pytest.mark.parametrize("text,prop", [c[1:] for c in ISSUE], ids=[c[0] for c in ISSUE])
def test_the_values_of_the_issue_are_refused_naming_the_property(text: str, prop: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.ttl"
    path.write_text(text)
    assert main(["policy", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"arca:{prop}" in err and "Traceback" not in err


@pytest.mark.parametrize("field,value", [("max_servants", MAX_SERVANTS + 1), ("expiration_s", WEEK_S * 2),
                                         ("lead_time_s", DAY_S + 1), ("frequency_limit", MAX_COUNT + 1)])
def test_the_loaders_model_keeps_the_same_bounds(field: str, value: float) -> None:
    """A value put in the store past the shapes (``arca kb load``) is refused by the model too."""
    with pytest.raises(pydantic.ValidationError, match=field):
        Policy(system="x", **{field: value})


# ------------------------------------------------------------------ trust maths: no overflow


def shape_bounds(prop: str) -> tuple[float, float]:
    """(lowest, highest) value the shipped shapes accept for an ``arca:SourceTrust`` property
    (no upper bound in the shapes: the largest finite double)."""
    g = rdflib.Graph().parse(ONTOLOGY_DIR / "severity-shapes.ttl")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    [shape] = [s for s in g.subjects(sh.path, rdflib.URIRef(ARCA_NS + prop))]
    low = g.value(shape, sh.minInclusive) or g.value(shape, sh.minExclusive)
    high = g.value(shape, sh.maxInclusive)
    return float(low.toPython()) if low is not None else 0.0, (
        float(high.toPython()) if high is not None else 1.7976931348623157e308)


WINDOW = shape_bounds("eventWindowSeconds")
CONFIRMATION = shape_bounds("confirmationSeconds")
LIMIT = shape_bounds("eventLimit")
MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                       timezones=st.just(UTC))


def accepted(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=low, max_value=high, exclude_min=True, allow_nan=False,
                     allow_infinity=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=accepted(*WINDOW), confirmation=accepted(*CONFIRMATION),
       limit=st.integers(min_value=int(LIMIT[0]), max_value=min(int(LIMIT[1]), 10**12)),
       penalty=st.floats(0, 1), reward=st.floats(0, 1), now=MOMENTS, severity=st.integers(0, 4))
def test_the_trust_maths_never_overflows_for_a_value_the_shapes_accept(
        window: float, confirmation: float, limit: int, penalty: float, reward: float, now: datetime,
        severity: int) -> None:
    text = trust(f"arca:eventLimit {limit} ; arca:eventWindowSeconds {window!r} ; "
                 f"arca:confirmationSeconds {confirmation!r} ; arca:credibilityPenalty {penalty!r} ; "
                 f"arca:credibilityReward {reward!r}")
    trusts = trusts_from_graph(validate_admin_file(text, "drawn.ttl").graph)  # the shapes accept it
    t = trusts["s"]
    times = [now, now - timedelta(seconds=1)] if now > datetime(1, 1, 2, tzinfo=UTC) else [now]
    count = over_limit(times, t, now)
    assert count is None or count >= (t.event_limit or 0)
    assert window_start(now, t) <= now <= confirmation_end(now, t)
    cred = Credibility("s", 0.8)
    for confirmed in (True, False):
        judged = judge(cred, confirmed, t, now)
        assert 0.0 <= judged.value <= 1.0 and math.isfinite(judged.value)
        assert 0 <= effective_severity(severity, judged.value) <= severity


# ------------------------------------------------------------------ one policy per node


def test_one_node_naming_two_systems_in_a_file_is_refused_naming_both() -> None:
    text = HEAD + '<urn:p:shared> a arca:Policy ; arca:system "alpha" , "beta" .\n'
    with pytest.raises(PolicyInvalid) as refused:
        validate_admin_file(text, "shared.ttl")
    message = str(refused.value)
    assert "<urn:p:shared>" in message and "'alpha'" in message and "'beta'" in message


REUSE = [
    ("same-system-again", "urn:p:a", "alpha", {"urn:p:a": {"alpha"}}, []),
    ("new-node", "urn:p:b", "beta", {"urn:p:a": {"alpha"}}, []),
    ("node-of-another-system", "urn:p:a", "beta", {"urn:p:a": {"alpha"}}, ["'alpha'", "'beta'", "urn:p:a"]),
]


@pytest.mark.parametrize("node,system,stored,named", [c[1:] for c in REUSE], ids=[c[0] for c in REUSE])
def test_reused_policy_nodes(node: str, system: str, stored: dict[str, set[str]], named: list[str]) -> None:
    policies = validate_admin_file(policy("arca:maxServants 3", node, system), "p.ttl").policies
    problems = reused_policy_nodes(policies, stored)
    assert len(problems) == (1 if named else 0)
    assert all(n in problems[0] for n in named)


@pytest.fixture
def store_env(monkeypatch: pytest.MonkeyPatch, oxigraph: object, rabbit_url: str,
              unique: str) -> Iterator[None]:
    ox = oxigraph
    for k, v in {"ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": ox.query_url,  # type: ignore[attr-defined]
                 "ARCA_KB__UPDATE_URL": ox.update_url,  # type: ignore[attr-defined]
                 "ARCA_KB__STORE_URL": ox.store_url,  # type: ignore[attr-defined]
                 "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url,
                 "ARCA_BUS__EXCHANGE": f"arca-{unique}", "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"dlx-{unique}",
                 "ARCA_BUS__DEAD_LETTER_QUEUE": f"dlq-{unique}",
                 "ARCA_BUS__QUEUE_PREFIX": f"t-{unique}."}.items():
        monkeypatch.setenv(k, v)
    yield


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_applying_another_systems_policy_node_is_refused_and_reloads_keep_working(
        store_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.settings import ArcaSettings
    from arca.kb.sparql import SparqlKnowledgeBase

    alpha, beta = tmp_path / "alpha.ttl", tmp_path / "beta.ttl"
    alpha.write_text(policy("arca:maxServants 3", "urn:p:shared", "alpha"))
    beta.write_text(policy("arca:maxServants 4", "urn:p:shared", "beta"))  # copied, node not renamed
    assert main(["policy", "apply", str(alpha), "--by", "alice"]) == 0
    capsys.readouterr()
    assert main(["policy", "apply", str(beta), "--by", "bob"]) == 1
    err = capsys.readouterr().err
    assert "urn:p:shared" in err and "'alpha'" in err and "'beta'" in err and "one policy per node" in err
    kb = SparqlKnowledgeBase(ArcaSettings().kb)
    try:
        assert {s: p.max_servants for s, p in load_policies(kb).items()} == {"alpha": 3}  # still loads
    finally:
        kb.close()
    beta.write_text(policy("arca:maxServants 4", "urn:p:beta", "beta"))  # its own node: applied
    assert main(["policy", "apply", str(beta), "--by", "bob"]) == 0
    kb = SparqlKnowledgeBase(ArcaSettings().kb)
    try:
        assert {s: p.max_servants for s, p in load_policies(kb).items()} == {"alpha": 3, "beta": 4}
    finally:
        kb.close()
