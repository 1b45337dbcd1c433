"""Fixtures of the testbed tests: a served testbed on free loopback ports, and an SDK connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testbed.model import ModelParams
from testbed.platform import Testbed
from testbed.timeline import parse_timeline

QUIET = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}


@pytest.fixture
def testbed() -> Iterator[Testbed]:
    """A quiet hour-long timeline served on free ports; time moves only when a test moves it."""
    tb = Testbed(parse_timeline(QUIET), ModelParams()).start()
    try:
        yield tb
    finally:
        tb.stop()


@pytest.fixture
def conn(testbed: Testbed) -> Any:
    """Unmodified openstacksdk, connected through the emulated Keystone."""
    c = testbed.connect()
    yield c
    c.close()
