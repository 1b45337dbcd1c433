#!/usr/bin/env python3
"""Run a command; on a terminal, say every few seconds that it is still running.

    python3 scripts/heartbeat.py "what it does" COMMAND ...

``make install`` wraps its silent steps (venv, ``pip install -q``) with it, so a fresh ``make demo``
never sits 10 s without a word. The command's own output passes through; the exit code is its own.
Nothing is added when stderr is not a terminal (CI logs stay as they were).
"""

from __future__ import annotations

import subprocess
import sys
import time

EVERY_S = 4.0


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: heartbeat.py WHAT COMMAND ...", file=sys.stderr)
        return 2
    what, command = sys.argv[1], sys.argv[2:]
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    if tty:
        print(f"make: {what} …", file=sys.stderr, flush=True)
    proc = subprocess.Popen(command)
    while True:
        try:
            return proc.wait(timeout=EVERY_S)
        except subprocess.TimeoutExpired:
            if tty:
                print(f"make: {what} … {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            proc.terminate()
            return 130


if __name__ == "__main__":
    sys.exit(main())
