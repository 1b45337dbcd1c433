"""``arca testbed``: check, msa, bench and run (a real subprocess serving HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from arca.app.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_check_accepts_the_shipped_timelines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testbed", "check", "reference"]) == 0
    assert "8 incidents" in capsys.readouterr().out
    assert main(["testbed", "check", "training"]) == 0
    assert "imperfect" not in capsys.readouterr().out
    assert main(["testbed", "check", "detectors-missed"]) == 0
    assert "0 false alarms, 3 missed, 0 severity errors, 0 late" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"duration_s": 10, "incidents": [
        {"at_s": 1, "severity": 1, "domain": "hq", "detector": {"severity_error": -1}}]}))
    assert main(["testbed", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "incidents[0].detector.severity_error: -1 reports severity 0, outside 1..4" in err


def test_check_refuses_a_bad_timeline_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"duration_s": 10, "failures": [{"at_s": 20}]}))
    assert main(["testbed", "check", str(bad)]) == 1
    assert "failures[0].at_s" in capsys.readouterr().err


def test_msa_prints_the_calibration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testbed", "msa", "--horizon", "12"]) == 0
    row3 = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("3 |"))
    assert row3.split("|")[1].split()[10] == "6"


def test_bench_without_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testbed", "bench", "--no-http"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["duration_s"] == 800 and out["oracle_discard_ratio"] == 0.0


def test_run_serves_every_api_and_plays_the_timeline(tmp_path: Path) -> None:
    timeline = tmp_path / "short.json"
    timeline.write_text(
        json.dumps(
            {"duration_s": 60, "seed": 9, "incidents": [{"at_s": 5, "severity": 2, "domain": "building-3"}]}
        )
    )
    clouds = tmp_path / "clouds.yaml"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arca.app.cli.main",
            "testbed",
            "run",
            "--timeline",
            str(timeline),
            "--speed",
            "20",
            "--clouds-yaml",
            str(clouds),
            "--start",
            "2030-05-01T00:00:00Z",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http://"):
                urls[parts[0]] = parts[1]
            if line.startswith("  clouds.yaml"):
                break
        assert {
            "identity",
            "compute",
            "image",
            "metric",
            "load-balancer",
            "network",
            "osm",
            "haproxy:building-2",
            "control",
        } <= set(urls)
        assert requests.get(urls["identity"], timeout=5).json()["version"]["id"] == "v3.14"
        assert requests.get(urls["haproxy:building-2"], timeout=5).text.startswith("# pxname,svname")
        assert "auth_url: " + urls["identity"] in clouds.read_text()
        status = requests.get(urls["control"] + "/status", timeout=5).json()
        assert status["now"].startswith("2030-05-01T00:0")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["requests_total"] > 60 * 30 * 0.9  # 60 s at >= 30 req/s
    assert summary["requests_discarded"] > 0  # severity 2 overwhelms the single servant


def test_run_refuses_a_bad_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testbed", "run", "--start", "yesterday", "--clouds-yaml", "-"]) == 1
    assert "--start" in capsys.readouterr().err


def test_the_clouds_yaml_goes_to_the_users_config_directory_readable_by_the_user_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from arca.testbed.cli import default_clouds_yaml, write_private

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    path = write_private(default_clouds_yaml(), "clouds: {password: s3cret}\n")
    assert path == tmp_path / "config" / "arca" / "testbed-clouds.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "testbed-clouds.yaml").exists()  # never the working directory
    path.chmod(0o644)
    write_private(path, "again\n")  # an existing file is made private too
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "again\n"


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [(["seismometer-hq=a", "bigdata-analyser=b=c"], {"seismometer-hq": "a", "bigdata-analyser": "b=c"}),
     (["seismometer-hq=a", "seismometer-hq=z"], {"seismometer-hq": "z"})],
    ids=["one-per-source-token-may-hold-equals", "last-wins"],
)
def test_detector_token_options(pairs: list[str], expected: dict[str, str]) -> None:
    from arca.testbed.cli import detector_tokens

    assert detector_tokens(pairs) == expected


@pytest.mark.parametrize("bad", ["seismometer-hq", "=tok", "seismometer-hq="], ids=["no-equals", "no-source",
                                                                                  "no-token"])
def test_a_bad_detector_token_option_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testbed", "run", "--detector-token", bad, "--clouds-yaml", "-"]) == 1
    err = capsys.readouterr().err
    assert f"--detector-token {bad!r}: expected SOURCE=TOKEN" in err
