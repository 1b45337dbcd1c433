"""``arca bench`` runs end to end and reports every measurement (values are not judged here)."""

from __future__ import annotations

import json

import pytest

from arca.cli.main import main


def test_bench_codec_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--no-bus"]) == 0
    report = json.loads(capsys.readouterr().out)
    codec = report["codec"]
    assert codec["triples"] == 10
    for part in ("pyoxigraph_ntriples", "rdflib_turtle", "rdflib_ntriples"):
        assert all(v > 0 for v in codec[part].values())
    assert "bus_throughput" not in report


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_bench_through_rabbitmq_and_oxigraph(capsys: pytest.CaptureFixture[str], rabbit_url: str,
                                             oxigraph: object) -> None:
    base = oxigraph.base  # type: ignore[attr-defined]
    rc = main(["bench", "--messages", "300", "--round-trips", "20", "--rabbit-url", rabbit_url,
               "--sparql-base", base])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bus_throughput"]["consumed"] == 300 and report["bus_throughput"]["lost"] == 0
    lat = report["round_trip_latency"]
    assert lat["round_trips"] == 20 and 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert lat["store"] == base


def test_bench_refuses_nonsense_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--messages", "0"]) == 1
    assert "--messages" in capsys.readouterr().err
