"""Microversion negotiation as Nova does it (``nova/api/openstack/api_version_request.py``, ``wsgi.py``).

The version comes from ``OpenStack-API-Version: compute X.Y`` (it wins) or the legacy
``X-OpenStack-Nova-API-Version: X.Y``; none means the minimum 2.1; ``latest`` means the maximum.
A malformed version is 400 ("API Version String ... is of invalid format"); one outside
[minimum, maximum] is 406 ("Version ... is not supported by the API. Minimum is ... and maximum
is ..."). Versions are compared numerically (2.9 < 2.26 < 2.100).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import Any

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _FORMAT.match(text.strip())
        if m is None:
            raise ValueError(
                f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        return cls(int(m.group(1)), int(m.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def v(text: str) -> Version:
    return Version.parse(text)


class NotAcceptable(Exception):
    """The requested version is outside [minimum, maximum] (HTTP 406)."""


def requested(headers: Any, service: str, legacy: str | None) -> str | None:
    """The version string the client asked for ``service`` (None when it asked for none)."""
    get = headers.get
    new = get("OpenStack-API-Version")
    if new:
        for part in str(new).split(","):
            words = part.split()
            if len(words) == 2 and words[0].lower() == service:
                return str(words[1])
    if legacy:
        old = get(legacy)
        if old:
            return str(old).strip()
    return None


def negotiate(asked: str | None, minimum: Version, maximum: Version) -> Version:
    """The version to serve: ValueError if malformed (400), ``NotAcceptable`` if out of range (406)."""
    if asked is None:
        return minimum
    if asked.strip().lower() == "latest":
        return maximum
    want = Version.parse(asked)
    if not minimum <= want <= maximum:
        raise NotAcceptable(
            f"Version {want} is not supported by the API. Minimum is {minimum} and maximum is {maximum}."
        )
    return want
