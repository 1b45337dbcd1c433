"""Wrong input to every command that reads a file: exit 1, the file named once, the right noun for
the kind of file, never a traceback (exceptions would escape ``main`` and fail the test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.app.cli.main import main

GARBAGE_TTL = "garbage @@@ not turtle\n"
NOT_JSON = "{not json"

CASES = [  # id, argv ({d} = the temp dir), env, what the message must say
    ("policy-garbage", ["policy", "validate", "{d}/garbage.ttl"], {}, "garbage.ttl: invalid policy"),
    ("policy-missing", ["policy", "validate", "{d}/missing.ttl"], {}, "cannot read {d}/missing.ttl"),
    ("samples-garbage", ["anticipation", "seed", "{d}/garbage.ttl"], {}, "garbage.ttl: invalid samples"),
    ("samples-directory", ["anticipation", "seed", "{d}"], {}, "Is a directory"),
    ("event-not-json", ["event", "validate", "{d}/garbage.json", "--scales", "{d}/scales.ttl"], {},
     "garbage.json: rejected (json)"),
    ("event-scales-garbage", ["event", "validate", "{d}/garbage.json", "--scales", "{d}/garbage.ttl"], {},
     "garbage.ttl: invalid severity scales"),
    ("timeline-check-garbage", ["testbed", "check", "{d}/garbage.json"], {}, "garbage.json: not JSON"),
    ("demo-timeline-garbage", ["demo", "--timeline", "{d}/garbage.json", "--no-training"], {},
     "invalid timeline {d}/garbage.json: not JSON"),
    ("demo-training-missing", ["demo", "--training", "{d}/missing.json"], {}, "cannot read {d}/missing.json"),
    ("demo-json-output-dir-missing", ["demo", "-o", "{d}/no/out.json"], {},
     "directory {d}/no does not exist"),
    ("kb-load-garbage", ["kb", "load", "{d}/garbage.ttl"], {}, "garbage.ttl: bad Turtle"),
    ("config-not-toml", ["status"], {"ARCA_CONFIG_FILE": "{d}/garbage.json"}, "invalid TOML"),
    ("config-missing", ["status"], {"ARCA_CONFIG_FILE": "{d}/missing.toml"}, "missing.toml: not a file"),
    ("config-wrong-type", ["status"], {"ARCA_CONFIG_FILE": "{d}/wrong.toml"}, "bus.url: Input should be"),
]


@pytest.mark.parametrize(("argv", "env", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_files_get_one_clean_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], argv: list[str],
                                           env: dict[str, str], expected: str) -> None:
    (tmp_path / "garbage.ttl").write_text(GARBAGE_TTL)
    (tmp_path / "garbage.json").write_text(NOT_JSON)
    (tmp_path / "wrong.toml").write_text("[bus]\nurl = 5\n")
    (tmp_path / "scales.ttl").write_bytes(
        (Path(__file__).resolve().parents[2] / "ontology" / "policies" / "severity-scales.ttl").read_bytes())
    d = str(tmp_path)
    monkeypatch.delenv("ARCA_CONFIG_FILE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(d=d))
    assert main([a.format(d=d) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("arca: ") and expected.format(d=d) in err, err
    named = [a.format(d=d) for a in argv if "{d}/" in a] + [v.format(d=d) for v in env.values()]
    for path in named:
        if Path(path).name in err:
            assert err.count(Path(path).name) == 1, err  # each path once
