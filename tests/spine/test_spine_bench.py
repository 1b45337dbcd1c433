"""``arca bench`` runs end to end and reports every measurement (values are not judged here)."""

from __future__ import annotations

import json

import pytest

from arca.app.cli.main import main
from tests.storekit import STORE_PARAMS


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
               "--sparql-base", base, "--loop", "10"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bus_throughput"]["consumed"] == 300 and report["bus_throughput"]["lost"] == 0
    ref = report["bus_throughput"]["reference"]  # raw pika, same bodies, same run
    assert ref["lost"] == 0 and ref["complete"] is True and ref["cpu_us_per_message"] > 0
    ratio = report["bus_throughput"]["vs_reference"]["cpu_us_per_message"]
    assert ratio == pytest.approx(report["bus_throughput"]["cpu_us_per_message"] / ref["cpu_us_per_message"],
                                  abs=0.01)
    lat = report["round_trip_latency"]
    assert lat["round_trips"] == 20 and 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert lat["store"] == base
    loop = report["event_to_decision"]  # the real analyzer and decider answered every event
    assert loop["events"] == 10 and 0 < loop["p50_ms"] <= loop["p99_ms"] <= loop["max_ms"]


@pytest.mark.rabbitmq
@pytest.mark.fuseki
def test_bench_latency_on_a_fuseki_server_it_starts(capsys: pytest.CaptureFixture[str],
                                                    rabbit_url: str) -> None:
    rc = main(["bench", "--messages", "100", "--round-trips", "10", "--rabbit-url", rabbit_url,
               "--store", "fuseki", "--loop", "5"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["round_trip_latency"]["store"] == "fuseki server started by the bench"
    assert report["event_to_decision"]["events"] == 5
    assert report["event_to_decision"]["store"] == "fuseki server started by the bench"


def test_bench_store_settings_refuses_the_embedded_store(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCA_KB__KIND", "embedded")
    assert main(["bench", "--systems", "2", "--store", "settings"]) == 1
    err = capsys.readouterr().err
    assert "ARCA_KB__KIND=sparql" in err and "Traceback" not in err


def test_bench_refuses_nonsense_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--messages", "0"]) == 1
    assert "--messages" in capsys.readouterr().err


@pytest.mark.rabbitmq
@pytest.mark.slow
@pytest.mark.parametrize("store_kind", STORE_PARAMS)
def test_bench_loop_with_systems_writes_the_json_report(tmp_path: object, capsys: pytest.CaptureFixture[str],
                                                        rabbit_url: str, store_kind: str) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "bench.json"
    rc = main(["bench", "--systems", "3", "--servants", "2", "--events", "6", "--rate", "20",
               "--burst", "30", "--rabbit-url", rabbit_url, "--store", store_kind, "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report == json.loads(capsys.readouterr().out)
    assert report["store"] == f"{store_kind} server started by the bench"
    assert (report["systems"], report["servants"], report["events"]) == (3, 2, 6)
    lat = report["event_to_decision_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert report["events_per_s"] > 0
    burst = report["burst"]  # every event recorded by the analyzer in the store the bench started
    assert burst["events_published"] == 6 + 5 + 30 and burst["lossless"], burst
    ref = report["reference"]
    ref_lat = ref["raw_pika_3_hops_event_to_decision_ms"]
    assert 0 < ref_lat["p50"] <= ref_lat["p99"] and ref["raw_pika_3_hops_events_per_s"] > 0


@pytest.mark.parametrize("args", [["--systems", "0"], ["--systems", "2", "--servants", "0"],
                                  ["--systems", "2", "--rate", "0"], ["--systems", "2", "--burst", "0"]],
                         ids=["no-systems", "no-servants", "no-rate", "no-burst"])
def test_bench_loop_refuses_nonsense(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *args]) == 1
    assert args[-2] in capsys.readouterr().err


def test_bench_output_options_o_file_and_the_deprecated_json_file(
        tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "report.json"
    assert main(["bench", "--no-bus", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert json.loads(out.read_text()) == json.loads(printed.out) and printed.err == ""
    old = Path(str(tmp_path)) / "old.json"
    assert main(["bench", "--no-bus", "--json", str(old)]) == 0  # the former spelling, one release
    printed = capsys.readouterr()
    assert json.loads(old.read_text())["codec"]["triples"] == 10
    assert "--json FILE is deprecated" in printed.err and f"-o {old}" in printed.err
    assert main(["bench", "--no-bus", "--json", str(old), "-o", str(out.with_name("x.json"))]) == 1
    assert "two files" in capsys.readouterr().err


@pytest.mark.rabbitmq
def test_bench_cleanup_leaves_none_of_a_sharded_runs_queues(rabbit_url: str, unique: str) -> None:
    """What a bench run declared on a broker it did not start (``bench_capacity --rabbit-url``: shard
    queues and their headers exchange included) is deleted at its end."""
    import pika
    import pika.exceptions

    from arca.app.cli.bench_loop import _cleanup
    from arca.bus.rabbitmq import RabbitBus
    from tests.spine.spine_helpers import bus_settings, wait_for

    settings = bus_settings(rabbit_url, unique, shards=2)
    queue, single = f"{settings.queue_prefix}decider", f"{settings.queue_prefix}analyzer"
    bus = RabbitBus(settings, service="decider")
    bus.subscribe_sharded(queue, ["situation.#"], [], lambda _m: None)
    bus.subscribe_sharded(single, ["event.#"], [], lambda _m: None, single=True)  # the analyzer's
    bus.start()

    def exists(kind: str, name: str) -> bool:
        conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
        try:
            ch = conn.channel()
            if kind == "queue":
                ch.queue_declare(name, passive=True)
            else:
                ch.exchange_declare(name, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker as exc:
            assert exc.reply_code == 404
            return False
        finally:
            if conn.is_open:
                conn.close()

    declared = [("queue", f"{queue}.s00"), ("queue", f"{queue}.s01"), ("exchange", f"{queue}.shards"),
                ("queue", f"{single}.single"),
                ("exchange", settings.exchange), ("queue", settings.dead_letter_queue)]
    try:
        wait_for(lambda: all(exists(k, n) for k, n in declared), what="the sharded topology declared")
    finally:
        bus.stop()
    _cleanup(rabbit_url, settings)
    assert [(k, n) for k, n in declared if exists(k, n)] == []
