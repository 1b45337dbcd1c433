"""Which delivery a consumer handles next: urgent ones first, superseded ones not at all.

A consumer that fell behind holds a window of deliveries (up to the prefetch) in arrival order. A
service may give its queue a ``DeliveryOrder`` (pure functions of a message):

* ``urgency`` — lower is handled first, arrival order among equals: a detector event and the
  situation it triggers do not wait behind routine telemetry work;
* ``folds_under`` / ``covers`` — level-triggered folding: a delivery whose ``folds_under`` key is
  ``covered`` by a delivery that arrived *after* it is superseded — it is acknowledged without being
  handled (counted), because the newer one brings the later state. So a burst of situations for one
  system becomes one decision on the latest state.

``plan`` is the choice, a pure function of the window; the RabbitMQ bus applies it and still
acknowledges deliveries in arrival order. Without an order a queue is handled first in, first out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from arca.messages import Message


def _routine(_m: Message) -> int:
    return 0


def _never(_m: Message) -> Hashable | None:
    return None


def _nothing(_m: Message) -> Iterable[Hashable]:
    return ()


@dataclass(frozen=True)
class DeliveryOrder:
    """How a service wants its backlog handled (see the module docstring)."""

    urgency: Callable[[Message], int] = _routine
    folds_under: Callable[[Message], Hashable | None] = _never
    covers: Callable[[Message], Iterable[Hashable]] = _nothing


_FIRST = -(2**31)

FIFO = DeliveryOrder()
"""First in, first out, nothing folded."""


@dataclass
class Slot:
    """One delivery of the window: its message (``None``: undecodable) and whether it is settled."""

    message: Message | None
    done: bool = False


def plan(window: Sequence[Slot], order: DeliveryOrder) -> tuple[int | None, list[int]]:
    """(index of the delivery to handle next or None, indexes of the deliveries now superseded).

    ``window`` is in arrival order. An undecodable delivery comes first (it is dead-lettered at
    once); a handled delivery still covers the older ones (a decision was made on a newer state).
    """
    superseded: list[int] = []
    covered: set[Hashable] = set()
    best: tuple[int, int] | None = None
    for i in range(len(window) - 1, -1, -1):
        slot = window[i]
        m = slot.message
        if m is None:  # undecodable: dead-lettered first
            if not slot.done and (best is None or (_FIRST, i) <= best):
                best = (_FIRST, i)
            continue
        if not slot.done:
            key = order.folds_under(m)
            if key is not None and key in covered:
                superseded.append(i)
            elif best is None or (order.urgency(m), i) <= best:
                best = (order.urgency(m), i)
        covered.update(order.covers(m))
    superseded.reverse()
    return (None if best is None else best[1]), superseded
