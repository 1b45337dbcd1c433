"""A service loads only what it uses: ``arca run <service>`` imports no other part's heavy libraries.

The CLI registers every part's sub-commands, so a sub-command module that imported its libraries at
the top would load them into every service process (the layering itself is ``make lint``'s
import-linter contracts, ``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "PIL", "sklearn", "scipy", "openstack", "flask", "yangson", "pyshacl")

USES = {
    "collector": {"flask", "yangson"},  # the HTTP ingest and the YANG validation
    "analyzer": set(),
    "decider": set(),  # scikit-learn is imported when the anticipator first fits, not before
    "enforcer": set(),  # openstacksdk is imported by the OpenStack driver when it is built
}

PROBE = """
import json, sys
from arca.app.cli.main import build_parser
build_parser()
from arca.app.runtime import service_class
service_class(sys.argv[1])
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("service", sorted(USES))
def test_arca_run_service_loads_only_its_libraries(service: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), service],
                         capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert loaded == USES[service], f"{service} loaded {sorted(loaded - USES[service])} it does not use"
