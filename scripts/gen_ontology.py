"""Regenerate the message part of ontology/arca.ttl and the whole of ontology/shapes.ttl from the models.

Run after changing a message model: ``python scripts/gen_ontology.py`` (tests fail until you do).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arca.messages.schema import ontology_turtle, shapes_turtle  # noqa: E402

BEGIN = "# BEGIN GENERATED MESSAGES (scripts/gen_ontology.py; do not edit by hand)\n"
END = "# END GENERATED MESSAGES\n"


def main() -> int:
    path = ROOT / "ontology" / "arca.ttl"
    text = path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(head + BEGIN + "\n" + ontology_turtle() + END + tail)
    (ROOT / "ontology" / "shapes.ttl").write_text(shapes_turtle())
    print(f"wrote {path} and ontology/shapes.ttl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
