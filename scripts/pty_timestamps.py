#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and timestamp what it prints (progress bars included).

    python3 scripts/pty_timestamps.py [--json] [--first-within S] [--max-gap S] -- COMMAND ...

Every chunk of output is split on ``\\r`` and ``\\n`` (a bar redrawn in place counts as output) and
stamped with the seconds since the command started. Prints the stamped lines (or, with ``--json``, a
JSON list of ``[seconds, text]``), then the first-output latency and the longest silence on stderr.
With ``--first-within``/``--max-gap`` it exits 1 when the command was silent longer than allowed —
how the README's "progress within 2 s, never 10 s without output" for ``make demo`` is checked.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import subprocess
import sys
import time


def run(argv: list[str]) -> tuple[int, list[tuple[float, str]]]:
    """Run ``argv`` with stdin/stdout/stderr on one pty; its exit code and its stamped output lines."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    lines: list[tuple[float, str]] = []
    pending = ""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        now = round(time.monotonic() - t0, 3)
        parts = re.split(r"[\r\n]", pending + data.decode(errors="replace"))
        pending = parts.pop()
        lines += [(now, p) for p in parts if p.strip()]
        if pending.strip():  # a bar redrawn without a newline yet is output too
            lines.append((now, pending))
            pending = ""
    os.close(master)
    return proc.wait(), lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--first-within", type=float)
    ap.add_argument("--max-gap", type=float)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command")
    rc, lines = run(command)
    times = [t for t, _ in lines]
    first = times[0] if times else float("inf")
    gap = max((b - a for a, b in zip([0.0, *times], times, strict=False)), default=float("inf"))
    if args.json:
        print(json.dumps({"rc": rc, "lines": lines, "first_s": first, "max_gap_s": gap}))
    else:
        for t, text in lines:
            print(f"{t:8.3f}  {text}")
        print(f"exit {rc}; first output after {first:.2f} s; longest silence {gap:.2f} s", file=sys.stderr)
    late = (args.first_within is not None and first > args.first_within) or (
        args.max_gap is not None and gap > args.max_gap)
    return 1 if late or rc else 0


if __name__ == "__main__":
    sys.exit(main())
