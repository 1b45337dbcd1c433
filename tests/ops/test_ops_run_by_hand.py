"""docs/ops.md "Run it by hand": the documented commands, run as written (bash), on the real RabbitMQ
(the session's vhost) — the store, the knowledge, the testbed, the four services, one event.

Only the variables the block itself offers are set (ports, data directory, broker URL); ``arca`` and
``oxigraph`` are the installed commands of this environment.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.livekit import free_port

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph, pytest.mark.slow]
OPS = Path(__file__).resolve().parents[2] / "docs" / "ops.md"


def documented_block() -> str:
    text = OPS.read_text()
    found = re.search(r"<!-- run-by-hand:begin -->\n```bash\n(.*?)```\n<!-- run-by-hand:end -->", text, re.S)
    assert found, "docs/ops.md has no run-by-hand block"
    return found.group(1)


def test_the_documented_commands_bring_up_a_reacting_loop(rabbit_url: str, tmp_path: Path) -> None:
    base, metrics = _free_range(9), _free_range(5)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("ARCA_", "OS_"))}
    data = tmp_path / "data"
    env.update(DATA=str(data), STORE_PORT=str(free_port()), CLOUD_PORT=str(base),
               COLLECTOR_PORT=str(free_port()), METRICS_PORT=str(metrics), AMQP_URL=rabbit_url,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    script = tmp_path / "by-hand.sh"
    script.write_text("set -euo pipefail\n" + documented_block())
    output = tmp_path / "output.txt"
    with output.open("w") as sink:  # a file: the background processes keep their copy of stdout open
        proc = subprocess.Popen(["bash", str(script)], env=env, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=tmp_path)
    try:
        proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the documented commands did not finish:\n{output.read_text()[-4000:]}\n"
                    f"{_logs(tmp_path)}")
    finally:
        _stop(proc.pid)
    out = output.read_text()
    assert proc.returncode == 0, f"{out[-4000:]}\n{_logs(tmp_path)}"
    assert '"status": "accepted"' in out
    # arca status: the event's incident, anticipated from the shipped prior (more than the 1 default)
    assert "incident: severity 4 from seismo-hq" in out, out
    desired = [int(m) for m in re.findall(r"servants desired (\d+)", out)]
    assert desired and desired[0] > 1, out
    # the enforcer created them in the testbed (its log, JSON lines)
    assert '"msg": "created server' in (data / "enforcer.log").read_text()


def _free_range(n: int) -> int:
    """A port p such that p .. p+n-1 are free now."""
    while True:
        base = free_port()
        if base + n < 65536 and all(_free(base + i) for i in range(n)):
            return base


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop(pgid: int) -> None:
    """The documented stop: the services (SIGTERM), then the rest of the session's processes."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)


def _logs(tmp: Path) -> str:
    parts = []
    for log in sorted((tmp / "data").glob("*.log")):
        parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)
