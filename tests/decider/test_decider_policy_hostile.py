"""Issue 13: policy files pyshacl/rdflib used to crash on are refused with a named problem: one line
on stderr and exit 1 from ``arca policy validate``, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.app.cli.main import main
from arca.decider.validation import PolicyInvalid, validate_policy

HEAD = ("@prefix arca: <https://w3id.org/arca/ns#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n")


def policy_ttl(body: str) -> str:
    return HEAD + '<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;\n' + body + " .\n"


HOSTILE = {
    # id: (policy body, fragments the one-line error must contain)
    "thresholdUp-blank-node": ("arca:thresholdUp []", ["arca:thresholdUp", "blank node"]),
    "lowThreshold-blank-node": ("arca:lowThreshold [ arca:x 1 ]", ["arca:lowThreshold", "blank node"]),
    "minServants-abc-integer": ('arca:minServants "abc"^^xsd:integer', ["arca:minServants", "'abc'",
                                                                        "xsd:integer"]),
    "thresholdUp-NaN-double": ('arca:thresholdUp "NaN"^^xsd:double', ["arca:thresholdUp", "finite"]),
    "highThreshold-INF-double": ('arca:highThreshold "INF"^^xsd:double', ["arca:highThreshold", "finite"]),
    "targetLoad-bad-decimal": ('arca:targetLoad "x"^^xsd:decimal', ["arca:targetLoad", "xsd:decimal"]),
    "anticipation-bad-boolean": ('arca:anticipation "perhaps"^^xsd:boolean', ["arca:anticipation"]),
    "maxServants-IRI": ("arca:maxServants <urn:many>", ["arca:maxServants", "IRI"]),
    "strategy-lone-surrogate": ('arca:strategy "\\uD800"', ["arca:strategy"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_policy_is_a_named_one_line_error(case: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    body, fragments = HOSTILE[case]
    text = policy_ttl(body)
    with pytest.raises(PolicyInvalid) as err:
        validate_policy(text, "p.ttl")
    for part in fragments:
        assert part in str(err.value), str(err.value)
    path = tmp_path / "p.ttl"
    path.write_text(text, errors="surrogatepass")
    assert main(["policy", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for part in fragments:
        assert part in lines[0]
