"""How long a timeline takes: the model alone, with the in-process oracle, and with the oracle driving
the emulated Nova through the real openstacksdk over HTTP (one decision per simulated second)."""

from __future__ import annotations

import time
from typing import Any

from arca.testbed.accounting import summarize
from arca.testbed.api.nova import FLAVORS, IMAGES, NETWORKS
from arca.testbed.model import TestbedModel
from arca.testbed.oracle import oracle_target, run_oracle
from arca.testbed.platform import Testbed
from arca.testbed.timeline import Timeline


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def oracle_over_sdk(timeline: Timeline) -> tuple[Testbed, Any]:
    """The oracle as a client of the emulated cloud: lists, creates and deletes servers with openstacksdk."""
    tb = Testbed(timeline).start()
    conn = tb.connect()
    model = tb.model
    boot = model.params.boot_delay_s
    while not model.finished:
        servers = list(conn.compute.servers(details=True, tags="arca-managed"))
        for s in servers:
            if s.status == "ERROR":
                conn.compute.delete_server(s)
        live = [s for s in servers if s.status in ("BUILD", "ACTIVE")]
        target = oracle_target(model.demand, model.t, boot)
        for i in range(target - len(live)):
            conn.compute.create_server(
                name=f"arca-emergency-o{model.t:g}-{i}",
                image_id=IMAGES[0]["id"],
                flavor_id=FLAVORS[0]["id"],
                networks=[{"uuid": NETWORKS[0]["id"]}],
                metadata={"arca_system": "emergency"},
                tags=["arca-managed"],
            )
        surplus = len(live) - target
        if surplus > 0:
            for s in sorted(live, key=lambda s: (s.status == "ACTIVE", s.created_at), reverse=False)[
                :surplus
            ]:
                conn.compute.delete_server(s)
        model.advance(model.params.step_s)
    conn.close()
    return tb, summarize(model)


def bench(timeline: Timeline, http: bool = True) -> dict[str, Any]:
    model_s, _ = _timed(lambda: TestbedModel(timeline).run())
    oracle_s, (_, summary) = _timed(lambda: run_oracle(timeline))
    out: dict[str, Any] = {
        "duration_s": timeline.duration_s,
        "model_only_s": round(model_s, 4),
        "oracle_in_process_s": round(oracle_s, 4),
        "oracle_discard_ratio": summary.discard_ratio,
        "oracle_servant_seconds": summary.servant_seconds,
    }
    if http:
        sdk_s, (tb, sdk_summary) = _timed(lambda: oracle_over_sdk(timeline))
        tb.stop()
        out |= {
            "oracle_over_openstacksdk_s": round(sdk_s, 2),
            "oracle_over_openstacksdk_discard_ratio": sdk_summary.discard_ratio,
            "http_requests": dict(tb.cloud.requests_served),
        }
    return out
