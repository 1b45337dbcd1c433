"""Issue 19 item 8: errors that help admins -- the exact message ``arca policy validate`` prints for
each admin mistake (unknown terms with the nearest known one, one line per fault, both bounds named),
no traceback when the reader of the output closes the pipe, and ``arca policy apply`` before any
service runs leaving no dead letter on the real broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pika
import pytest

from arca.app.cli.main import EXIT_CLOSED_PIPE, main
from arca.app.cli.stores import SparqlEndpoints
from arca.namespace import ONTOLOGY_DIR

HEAD = ("@prefix arca: <https://w3id.org/arca/ns#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n")
NODE = '<urn:p:emergency> a arca:Policy ; arca:system "emergency" ; '
ARCA = [sys.executable, "-m", "arca.app.cli.main"]


def policy(body: str) -> str:
    return HEAD + NODE + body + " .\n"


MISTAKES = [
    pytest.param(policy("arca:maxServant 5"),
                 ["node <urn:p:emergency> property arca:maxServant: unknown term (not in the ARCA ontology); "
                  "did you mean arca:maxServants?"], id="misspelt-maxServant"),
    pytest.param(policy("arca:velocityLimit true"),
                 ["node <urn:p:emergency> property arca:velocityLimit: unknown term (not in the ARCA "
                  "ontology); did you mean arca:velocityLimits?"], id="misspelt-velocityLimit"),
    pytest.param(policy("arca:guardFrequencyWindowSecond 60"),
                 ["node <urn:p:emergency> property arca:guardFrequencyWindowSecond: unknown term (not in "
                  "the ARCA ontology); did you mean arca:guardFrequencyWindowSeconds?"],
                 id="misspelt-guardFrequencyWindowSecond"),
    pytest.param(policy("arca:zzzz 1"),
                 ["node <urn:p:emergency> property arca:zzzz: unknown term (not in the ARCA ontology)"],
                 id="unknown-term-nothing-near"),
    pytest.param(HEAD + '<urn:p:emergency> a arca:Polcy ; arca:system "emergency" .\n',
                 ["node <urn:p:emergency> property rdf:type: unknown class arca:Polcy; did you mean "
                  "arca:Policy?"], id="misspelt-class-Policy"),
    pytest.param(policy('arca:forSource "seismo-hq"'),
                 ["node <urn:p:emergency> property arca:forSource: not a property of arca:Policy (it "
                  "belongs to arca:SeverityScale, arca:SourceTrust)"],
                 id="scale-term-on-a-policy"),
    pytest.param(policy('arca:minServants 1 ; arca:maxServants "ten" ; arca:defaultServants 1'),
                 ["node <urn:p:emergency> property arca:maxServants: at most one integer >= 1 and <= 1000 "
                  "(ARCA's stated maximum of servants per system) (value 'ten')"],
                 id="wrong-datatype-once-no-cascade"),
    pytest.param(policy("arca:minServants 5 ; arca:maxServants 3"),
                 ["node <urn:p:emergency> property arca:minServants: arca:minServants 5 is above "
                  "arca:maxServants 3"], id="min-above-max"),
    pytest.param(policy("arca:minServants 5 ; arca:maxServants 3 ; arca:defaultServants 4"),
                 ["node <urn:p:emergency> property arca:defaultServants: arca:defaultServants 4 is above "
                  "arca:maxServants 3",
                  "node <urn:p:emergency> property arca:minServants: arca:minServants 5 is above "
                  "arca:defaultServants 4",
                  "node <urn:p:emergency> property arca:minServants: arca:minServants 5 is above "
                  "arca:maxServants 3"], id="min-above-max-and-default-each-pair-once"),
    pytest.param(policy("arca:minServants 5"),
                 ["node <urn:p:emergency> property arca:defaultServants: arca:defaultServants 1 (the "
                  "default) is below arca:minServants 5"], id="min-above-the-default-default"),
    pytest.param(policy("arca:lowThreshold 0.8 ; arca:highThreshold 0.6"),
                 ["node <urn:p:emergency> property arca:lowThreshold: arca:lowThreshold 0.8 is not below "
                  "arca:highThreshold 0.6"], id="low-threshold-above-high"),
    pytest.param(policy('arca:maxServants 3 ; arca:warmPoolState "stopped" ; arca:warmPoolMaxSize 5'),
                 ["node <urn:p:emergency> property arca:warmPoolMaxSize: arca:warmPoolMaxSize 5 is above "
                  "arca:maxServants 3"], id="pool-max-above-max"),
    pytest.param(policy('arca:maxServants 3 ; arca:warmPoolState "stopped" ; arca:warmPoolMinSize 5'),
                 ["node <urn:p:emergency> property arca:warmPoolMinSize: arca:warmPoolMinSize 5 is above "
                  "arca:maxServants 3 (the pool's maximum when arca:warmPoolMaxSize is not given)"],
                 id="pool-min-above-max-same-format"),
    pytest.param(policy('arca:minServants "abc"^^xsd:integer ; arca:maxServants 3'),
                 ["node <urn:p:emergency> property arca:minServants: 'abc' is not a valid xsd:integer"],
                 id="ill-typed-literal-once"),
    pytest.param(HEAD + "<urn:sc> a arca:SeverityScale ; arca:forSource \"s\" ; arca:steps [] .\n",
                 ["node <urn:sc> property arca:steps: unknown term (not in the ARCA ontology); did you "
                  "mean arca:step?"], id="misspelt-scale-step"),
]


@pytest.mark.parametrize(("text", "expected"), MISTAKES)
def test_each_admin_mistake_gets_its_one_exact_message(text: str, expected: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.ttl"
    path.write_text(text)
    assert main(["policy", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    head = f"arca: {path}: invalid policy"
    if len(expected) == 1:
        assert err == f"{head}: {expected[0]}\n"
    else:
        assert err == "\n  ".join([head, *expected]) + "\n"


@pytest.mark.parametrize("name", ["policies/emergency.ttl", "policies/severity-scales.ttl",
                                  "priors/emergency.ttl"], ids=["policy", "scales", "prior"])
def test_every_shipped_admin_file_uses_only_known_terms(name: str) -> None:
    assert main(["policy", "validate", str(ONTOLOGY_DIR / name)]) == 0


def test_a_source_trust_may_name_its_source() -> None:
    """``arca:forSource`` serves severity scales and source trust (its domain is their union)."""
    from arca.decider.validation import validate_admin_file

    text = HEAD + '<urn:t> a arca:SourceTrust ; arca:forSource "seismo-hq" ; arca:eventLimit 5 .\n'
    assert validate_admin_file(text, "t.ttl").kinds == {"source trust": 1}


# ------------------------------------------------------------------ closed pipe


def run_with_closed_pipe(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``arca ARGS`` with its stdout a pipe whose reader is gone before it writes (``| head`` that
    already exited): exit code and stderr."""
    proc = subprocess.Popen([*ARCA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the command printed anything
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["policy", "validate", str(ONTOLOGY_DIR / "policies" / "emergency.ttl")], EXIT_CLOSED_PIPE,
                 id="validate"),
    # argparse writes help itself and ignores the OSError of the write: exit 0, quiet as well
    pytest.param(["--help"], 0, id="help"),
    pytest.param(["policy", "history", "--help"], 0, id="sub-command-help"),
])
def test_a_closed_pipe_ends_quietly(args: list[str], expected: int) -> None:
    code, err = run_with_closed_pipe(args, {})
    assert (code, err) == (expected, "")


@pytest.mark.oxigraph
def test_policy_history_show_into_a_closed_pipe_ends_quietly(oxigraph: SparqlEndpoints,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": oxigraph.query_url,
           "ARCA_KB__UPDATE_URL": oxigraph.update_url, "ARCA_KB__STORE_URL": oxigraph.store_url}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["policy", "apply", str(ONTOLOGY_DIR / "policies" / "emergency.ttl")]) == 0  # in-memory bus
    shown = subprocess.run([*ARCA, "policy", "history", "emergency", "--show", "1"], capture_output=True,
                           env={**os.environ, **env}, timeout=60, check=True)
    assert b'arca:system "emergency"' in shown.stdout  # what the closed pipe would have received
    code, err = run_with_closed_pipe(["policy", "history", "emergency", "--show", "1"], env)
    assert (code, err) == (EXIT_CLOSED_PIPE, "")


def test_a_closed_pipe_through_a_shell_pipeline_with_head(tmp_path: Path) -> None:
    """As a user types it: ``arca ... | head -1`` with output longer than the pipe's buffer."""
    big = tmp_path / "big.ttl"  # validate names every node: one line per policy
    nodes = (f'<urn:p:s{i}> a arca:Policy ; arca:system "s{i}" .\n' for i in range(3000))
    big.write_text(HEAD + "".join(nodes))
    cmd = " ".join([*ARCA, "policy", "validate", str(big)]) + " | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr and done.stderr == ""
    assert done.returncode in (0, EXIT_CLOSED_PIPE)


# ------------------------------------------------------------------ apply before any service runs


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_apply_before_any_service_runs_leaves_no_dead_letter(oxigraph: SparqlEndpoints, rabbit_url: str,
                                                             unique: str) -> None:
    prefix, dlq = f"t-{unique}.", f"dlq-{unique}"
    env = {"ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": oxigraph.query_url,
           "ARCA_KB__UPDATE_URL": oxigraph.update_url, "ARCA_KB__STORE_URL": oxigraph.store_url,
           "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url, "ARCA_BUS__EXCHANGE": f"arca-{unique}",
           "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"dlx-{unique}", "ARCA_BUS__DEAD_LETTER_QUEUE": dlq,
           "ARCA_BUS__QUEUE_PREFIX": prefix}
    done = subprocess.run([*ARCA, "policy", "apply", str(ONTOLOGY_DIR / "policies" / "emergency.ttl")],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("applied policy for system 'emergency' as version 1 "
                           "(graph https://w3id.org/arca/ns#graph/policy/emergency)\n")
    assert "unroutable" not in done.stderr and "NO_ROUTE" not in done.stderr, done.stderr
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        ch = conn.channel()
        assert ch.queue_declare(dlq, passive=True).method.message_count == 0  # no dead letter
        waiting = {s: ch.queue_declare(f"{prefix}{s}", passive=True).method.message_count
                   for s in ("collector", "analyzer", "decider", "enforcer")}
        assert waiting == {"collector": 1, "analyzer": 1, "decider": 1, "enforcer": 1}  # read at start
        for s in waiting:
            ch.queue_delete(f"{prefix}{s}")
    finally:
        conn.close()
