"""The base of the four micro-services: dependencies in, messages handled, ticks self-dispatched.

A service gets everything from outside (``Deps``: bus, knowledge base, clock, settings) and only
wires decisions that live in pure functions elsewhere. ``attach`` subscribes its queue; the host
(``arca.runtime`` in production, the simulation driver in ``arca demo``) calls ``tick`` on a period.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from arca.bus import Bus
from arca.clock import Clock
from arca.kb import KnowledgeBase
from arca.messages import Message
from arca.settings import ArcaSettings


@dataclass
class Deps:
    """What a service is given."""

    bus: Bus
    kb: KnowledgeBase
    clock: Clock
    settings: ArcaSettings


class Service(ABC):
    """One MAPE stage: consumes ``patterns`` from queue ``<prefix><name>``."""

    name: ClassVar[str]
    patterns: ClassVar[Sequence[str]]

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.bus = deps.bus
        self.kb = deps.kb
        self.clock = deps.clock
        self.settings = deps.settings

    @property
    def queue(self) -> str:
        return f"{self.settings.bus.queue_prefix}{self.name}"

    def attach(self) -> None:
        """Subscribe this service's queue on the bus."""
        self.bus.subscribe(self.queue, self.patterns, self.handle)

    @abstractmethod
    def handle(self, message: Message) -> None:
        """Process one delivered message (raise ``arca.bus.Reject`` to dead-letter it)."""

    def tick(self, now: datetime) -> None:  # noqa: B027 - optional hook
        """Self-dispatched work (timers, polls, deadlines); default: nothing."""

    @property
    def tick_interval_s(self) -> float:
        group = getattr(self.settings, self.name, None)
        return float(getattr(group, "tick_interval_s", 1.0))
