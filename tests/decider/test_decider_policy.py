"""Admin policies: Turtle -> SHACL -> typed ``Policy``; ``arca policy validate|apply``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arca.app.cli.main import main
from arca.app.settings import BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.decider.policy import load_policies
from arca.decider.validation import PolicyInvalid, validate_policy
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Message, PolicyUpdated
from arca.namespace import ONTOLOGY_DIR

EXAMPLE = ONTOLOGY_DIR / "policies" / "emergency.ttl"
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def policy_ttl(body: str, system: str = "emergency") -> str:
    return HEAD + f'<urn:p:{system}> a arca:Policy ; arca:system "{system}" ;\n' + body + " .\n"


def test_the_shipped_example_is_valid() -> None:
    valid = validate_policy(EXAMPLE.read_bytes(), str(EXAMPLE))
    (p,) = valid.policies
    assert (p.system, p.strategy, p.min_servants, p.max_servants, p.high_threshold) == (
        "emergency", "arca", 1, 15, 0.7)
    assert {"scale-out", "scale-in"} <= p.allowed_actions


BAD = {
    "low-above-high": (policy_ttl("arca:lowThreshold 0.8 ; arca:highThreshold 0.7"),
                       ["<urn:p:emergency>", "arca:lowThreshold"]),
    "min-above-max": (policy_ttl("arca:minServants 9 ; arca:maxServants 3"),
                      ["<urn:p:emergency>", "arca:minServants"]),
    "unknown-strategy": (policy_ttl('arca:strategy "magic"'), ["arca:strategy", "'magic'"]),
    "threshold-out-of-range": (policy_ttl("arca:highThreshold 1.5"), ["arca:highThreshold", "1.5"]),
    "servants-not-integer": (policy_ttl('arca:maxServants "lots"'), ["arca:maxServants", "'lots'"]),
    "unknown-action": (policy_ttl('arca:allowedAction "reboot"'), ["arca:allowedAction", "'reboot'"]),
    "no-system": (HEAD + "<urn:p:x> a arca:Policy ; arca:maxServants 3 .\n", ["<urn:p:x>", "arca:system"]),
    "default-outside-bounds": (policy_ttl("arca:minServants 2 ; arca:maxServants 5 ; arca:defaultServants 1"),
                               ["arca:minServants", "defaultServants"]),
    "two-expirations": (policy_ttl("arca:expirationSeconds 10, 20"), ["arca:expirationSeconds"]),
    "syntax-error": (HEAD + "<urn:p:x> a arca:Policy ;\n  arca:system \"x ;\n", ["line 3", "syntax"]),
    "unbound-prefix": (HEAD + "\n\nfoo:x a arca:Policy .\n", ["line 4", "foo"]),
    "no-policy": (HEAD + "<urn:x> arca:system \"x\" .\n", ["no node of class arca:Policy"]),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=sorted(BAD))
def test_bad_policies_are_refused_naming_node_and_property(case: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = BAD[case]
    with pytest.raises(PolicyInvalid) as err:
        validate_policy(text, "p.ttl")
    for part in expected:
        assert part in str(err.value)
    path = tmp_path / "p.ttl"
    path.write_text(text)
    assert main(["policy", "validate", str(path)]) == 1
    stderr = capsys.readouterr().err
    for part in expected:
        assert part in stderr


def test_every_violation_is_listed() -> None:
    text = policy_ttl('arca:highThreshold 2.0 ; arca:strategy "magic" ; arca:maxServants -1')
    with pytest.raises(PolicyInvalid) as err:
        validate_policy(text, "p.ttl")
    message = str(err.value)
    for prop in ("arca:highThreshold", "arca:strategy", "arca:maxServants"):
        assert prop in message
    assert len(err.value.problems) >= 3


def test_validate_a_good_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", str(EXAMPLE)]) == 0
    assert "'emergency' is valid" in capsys.readouterr().out


def test_validate_a_missing_file_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", "/nonexistent/p.ttl"]) == 1
    assert "/nonexistent/p.ttl" in capsys.readouterr().err


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_apply_stores_one_graph_per_policy_and_notifies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oxigraph: object, rabbit_url: str,
        unique: str) -> None:
    ox = oxigraph
    env = {
        "ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": ox.query_url,  # type: ignore[attr-defined]
        "ARCA_KB__UPDATE_URL": ox.update_url, "ARCA_KB__STORE_URL": ox.store_url,  # type: ignore[attr-defined]
        "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url, "ARCA_BUS__EXCHANGE": f"arca-{unique}",
        "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"dlx-{unique}", "ARCA_BUS__DEAD_LETTER_QUEUE": f"dlq-{unique}",
        "ARCA_BUS__QUEUE_PREFIX": f"t-{unique}.",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    listener = RabbitBus(BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                                     dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                                     queue_prefix=f"t-{unique}."))
    got: list[Message] = []
    listener.subscribe(f"t-{unique}.listener", ["policy.#"], got.append)
    listener.start()
    try:
        two = EXAMPLE.read_text() + policy_ttl('arca:strategy "threshold" ; arca:maxServants 4', "video")
        path = tmp_path / "two.ttl"
        path.write_text(two)
        assert main(["policy", "apply", str(path)]) == 0
        kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=ox.query_url,  # type: ignore[attr-defined]
                                            update_url=ox.update_url, store_url=ox.store_url))  # type: ignore[attr-defined]
        policies = load_policies(kb)
        assert sorted(policies) == ["emergency", "video"]
        assert policies["video"].strategy == "threshold" and policies["video"].max_servants == 4
        graphs = kb.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s a arca:Policy } }")
        assert len(graphs) == 2
        # re-applying replaces the graph (no duplicate values)
        path.write_text(policy_ttl('arca:strategy "static" ; arca:maxServants 6', "video"))
        assert main(["policy", "apply", str(path)]) == 0
        assert load_policies(kb)["video"].max_servants == 6
        kb.close()
        deadline = time.monotonic() + 20
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        updated = sorted(m.system for m in got if isinstance(m, PolicyUpdated))
        assert updated == ["emergency", "video", "video"]
    finally:
        listener.stop()


def test_apply_refuses_an_invalid_policy_before_touching_the_store(tmp_path: Path) -> None:
    path = tmp_path / "bad.ttl"
    path.write_text(policy_ttl("arca:highThreshold 3"))
    assert main(["policy", "apply", str(path)]) == 1
