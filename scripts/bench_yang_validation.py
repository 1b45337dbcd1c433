"""One detector event's YANG validation, side by side: yangson, libyang (CFFI bindings), the shortcut.

    .venv/bin/python scripts/bench_yang_validation.py [-n 3000]

Validates the two instances of one event (the notification's members and its decoded payload tree)
``-n`` times with each validator in the same process and prints the CPU µs per event: yangson (as
``arca.collector.yang_model.yangson_validate`` does), the collector's shortcut
(``known_valid_notification`` + ``known_valid_data``) and, when its bindings are installed, libyang
(``apt-get install libyang2-dev; pip install 'libyang==2.7.0'``, the last release that builds against
Debian 12's libyang 2.1; libyang parses JSON text, so the ``json.dumps`` of both instances is
included). Then each validator's answer to a severity of 256 (uint8 out of range), to compare the
refusals.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arca.collector.errors import IngestError  # noqa: E402
from arca.collector.events import EVENTS, build_payload  # noqa: E402
from arca.collector.yang_model import (  # noqa: E402
    MODULE,
    NOTIFICATION,
    known_valid_data,
    known_valid_notification,
    yangson_validate,
)
from arca.namespace import YANG_DIR  # noqa: E402

CONTENT = {"id": "q-17", "source": "seismo-hq", "sequence": "17", "context": "building-2",
           "timestamp": "2026-11-22T01:59:59.500Z",
           "payload": build_payload("bigdata", severity=2, description="bench")}
PAYLOAD = json.loads(base64.b64decode(CONTENT["payload"]))
BAD = {EVENTS: {"event-payloads": {"event-payloads-bigdata": [{"plid": "p1", "severity": 256}]}}}


def timed(fn: Callable[[], object], n: int) -> float:
    fn()  # build models, compile patterns
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def yangson_answer(document: object) -> str:
    try:
        yangson_validate(document, "")
    except IngestError as exc:
        return f"refused at {exc.path}: {exc.detail}"
    return "accepted"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=3000)
    n = ap.parse_args(argv).n

    def with_yangson() -> None:
        yangson_validate(CONTENT, "", NOTIFICATION)
        yangson_validate(PAYLOAD, "")

    def with_shortcut() -> None:
        assert known_valid_notification(CONTENT) and known_valid_data(PAYLOAD)

    rows = {"yangson": timed(with_yangson, n), "shortcut": timed(with_shortcut, n)}
    answers = {"yangson": yangson_answer(BAD), "shortcut": "declined: yangson decides"
               if not known_valid_data(BAD) else "ACCEPTED (a bug)"}
    try:
        import libyang
    except ImportError:
        answers["libyang"] = "not installed"
    else:
        ctx = libyang.Context(str(YANG_DIR))
        ctx.load_module(MODULE)

        def with_libyang() -> None:
            ctx.parse_op_mem("json", json.dumps({NOTIFICATION: CONTENT}), libyang.DataType.NOTIF_YANG).free()
            ctx.parse_data_mem(json.dumps(PAYLOAD), "json", strict=True, validate_present=True).free()

        rows["libyang"] = timed(with_libyang, n)
        try:
            ctx.parse_data_mem(json.dumps(BAD), "json", strict=True, validate_present=True).free()
            answers["libyang"] = "accepted"
        except libyang.LibyangError as exc:
            answers["libyang"] = f"refused: {exc}"
    for name, us in rows.items():
        print(f"{name:9s} {us:8.1f} µs CPU per event (two instances)")
    for name, answer in answers.items():
        print(f"{name:9s} severity 256: {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
