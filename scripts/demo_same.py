"""Whether two ``arca demo --json`` documents have the same results: every strategy's figures (all but
``wall_s``) and the enforcement outcome counts. Exit 0 when equal, 1 with the differences otherwise.

    python scripts/demo_same.py before.json after.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two demo documents, ``wall_s`` (the machine's, not the run's) aside."""
    out = []
    names = sorted(set(a["strategies"]) | set(b["strategies"]))
    for name in names:
        x, y = a["strategies"].get(name), b["strategies"].get(name)
        if x is None or y is None:
            out.append(f"{name}: only in {'the second' if x is None else 'the first'}")
            continue
        for key in sorted((set(x) | set(y)) - {"wall_s"}):
            if x.get(key) != y.get(key):
                out.append(f"{name}.{key}: {x.get(key)!r} != {y.get(key)!r}")
    if a.get("enforcement") != b.get("enforcement"):
        out.append("enforcement outcomes differ")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: demo_same.py BEFORE.json AFTER.json", file=sys.stderr)
        return 1
    try:
        docs = [json.loads(Path(path).read_text(encoding="utf-8")) for path in argv]
        diff = differences(*docs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"demo_same.py: cannot compare: {exc}", file=sys.stderr)
        return 1
    for line in diff:
        print(line)
    n = len(docs[0]["strategies"])
    print(f"{n} strategies: {'the same results' if not diff else f'{len(diff)} differences'} (wall_s aside)")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
