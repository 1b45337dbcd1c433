"""``derived_id`` is ``uuid.uuid5`` of the ARCA namespace, written out without the ``UUID`` object.

Every message id derived before (in stores, on queues, in dead-letter queues) must stay the id
derived now, for any parts: ASCII, non-ASCII, empty, the separator itself, long.
"""

from __future__ import annotations

import uuid

import pytest

from arca.messages.ids import _NAMESPACE, derived_id

PARTS = {
    "event": ("event", "seismo-hq", "q-17"),
    "event-per-system": ("event", "seismo-hq", "q-17", "emergency"),
    "non-ascii": ("event", "détecteur-Ω", "震-1"),
    "empty": ("",),
    "no-parts": (),
    "separator-inside": ("a\x1fb", "c"),
    "long": ("x" * 5000, "y"),
    "astral": ("\U0001f30b", "e"),
}


@pytest.mark.parametrize("parts", list(PARTS.values()), ids=list(PARTS))
def test_the_id_is_uuid5_of_the_namespace(parts: tuple[str, ...]) -> None:
    assert derived_id(*parts) == uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex


def test_ids_of_many_names_equal_uuid5_and_read_as_version_5_uuids() -> None:
    for i in range(2000):
        parts = ("situation", f"sys-{i % 37}", str(i * 7919))
        got = derived_id(*parts)
        assert got == uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex
        assert uuid.UUID(got).version == 5 and uuid.UUID(got).variant == uuid.RFC_4122


def test_a_lone_surrogate_is_refused_as_uuid5_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(_NAMESPACE, "\ud800")
    with pytest.raises(UnicodeEncodeError):
        derived_id("\ud800")
