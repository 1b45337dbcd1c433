"""Nova's server list as the Gnocchi poller reads it: bad answers are refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from arca.collector.errors import IngestError
from arca.collector.gnocchi import server_rows

GOOD: dict[str, tuple[Any, list[dict[str, Any]]]] = {
    "empty": ({"servers": []}, []),
    "one-with-metadata": ({"servers": [{"id": "a", "name": "vm", "metadata": {"arca_system": "s"}}]},
                          [{"id": "a", "name": "vm", "metadata": {"arca_system": "s"}}]),
    "no-name-no-metadata": ({"servers": [{"id": "b"}]}, [{"id": "b", "name": "", "metadata": {}}]),
    "metadata-not-an-object": ({"servers": [{"id": "c", "name": "x", "metadata": ["no"]}]},
                               [{"id": "c", "name": "x", "metadata": {}}]),
}

BAD: dict[str, tuple[Any, str]] = {
    "not-an-object": ([], "/servers"),
    "no-servers": ({"server": []}, "/servers"),
    "servers-not-a-list": ({"servers": {"id": "a"}}, "/servers"),
    "server-not-an-object": ({"servers": ["a"]}, "/servers/0/id"),
    "id-missing": ({"servers": [{"id": "a"}, {"name": "x"}]}, "/servers/1/id"),
    "id-not-a-string": ({"servers": [{"id": 7}]}, "/servers/0/id"),
}


@pytest.mark.parametrize(("data", "want"), GOOD.values(), ids=GOOD.keys())
def test_server_rows(data: Any, want: list[dict[str, Any]]) -> None:
    assert server_rows(data) == want


@pytest.mark.parametrize(("data", "path"), BAD.values(), ids=BAD.keys())
def test_bad_server_lists_are_refused_naming_the_field(data: Any, path: str) -> None:
    with pytest.raises(IngestError) as err:
        server_rows(data)
    assert err.value.path == path
