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

While a handler runs, ``waiting()`` gives the messages of its window not handled yet
(``first_waiting`` the first one a test accepts), so a handler can leave to a later delivery work
that delivery will redo on a newer state (the analyzer publishes one situation per system for a
burst of events, on the last of them). A call scheduled on the delivery thread (a tick) sees the
deliveries received after it as waiting. The in-memory bus delivers one at a time: nothing is
waiting there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

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
    facts: tuple[DeliveryOrder, int, Hashable | None, tuple[Hashable, ...]] | None = field(
        default=None, repr=False, compare=False)
    """(order, urgency, folds_under, covers) of the message, computed once per order."""


def _facts(slot: Slot, order: DeliveryOrder) -> tuple[int, Hashable | None, tuple[Hashable, ...]]:
    """The order's view of one message, cached on its slot (``plan`` runs once per handled delivery
    over the whole window: without the cache a window of n costs n² calls of the order's functions)."""
    f = slot.facts
    if f is None or f[0] is not order:
        m = slot.message
        assert m is not None
        f = slot.facts = (order, order.urgency(m), order.folds_under(m), tuple(order.covers(m)))
    return f[1], f[2], f[3]


def plan(window: Sequence[Slot], order: DeliveryOrder) -> tuple[int | None, list[int]]:
    """(index of the delivery to handle next or None, indexes of the deliveries now superseded).

    ``window`` is in arrival order. An undecodable delivery comes first (it is dead-lettered at
    once); a handled delivery still covers the older ones (a decision was made on a newer state).
    """
    if order is FIFO:
        return _first_in(window), []
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
        urgency, key, covers = _facts(slot, order)
        if not slot.done:
            if key is not None and key in covered:
                superseded.append(i)
            elif best is None or (urgency, i) <= best:
                best = (urgency, i)
        covered.update(covers)
    superseded.reverse()
    return (None if best is None else best[1]), superseded


class Planner:
    """``plan`` kept up to date as deliveries join the window: O(log n) a choice instead of O(n).

    A consumer with a large window (a prefetch of hundreds, so that a burst spread over many systems
    still meets in it and folds) cannot walk the whole window for every delivery it handles. The
    planner learns each delivery once, when it becomes eligible (``add``, in arrival order, numbered
    from ``start``): its covers supersede the older pending deliveries folded under them at that
    moment, exactly as ``plan`` would at its next call (a later delivery covers the older ones whether
    it was handled or not), and it joins a heap on (urgency, arrival). ``choose`` gives what ``plan``
    gives for the window of the deliveries added so far (a property test holds it to ``plan``); the
    caller marks the chosen and the superseded slots ``done``. Every ``COMPACT_EVERY`` additions the
    slots done meanwhile are dropped from its indexes, so it holds what the window holds.
    """

    COMPACT_EVERY = 1024

    def __init__(self, order: DeliveryOrder, start: int = 0) -> None:
        self.order = order
        self.next_arrival = start
        """Arrival number the next ``add`` gets."""
        self._heap: list[tuple[int, int, Slot]] = []
        self._folded: dict[Hashable, list[tuple[int, Slot]]] = {}
        self._since_compaction = 0

    def add(self, slot: Slot) -> list[int]:
        """Learn the next delivery of the window; returns the arrival numbers of the pending deliveries
        it supersedes (each acknowledged unhandled: their order does not matter)."""
        seq = self.next_arrival
        self.next_arrival += 1
        self._since_compaction += 1
        if self._since_compaction >= self.COMPACT_EVERY:
            self._compact()
        if slot.message is None:  # undecodable: dead-lettered first
            if not slot.done:
                heapq.heappush(self._heap, (_FIRST, seq, slot))
            return []
        urgency, key, covers = _facts(slot, self.order)
        superseded: list[int] = []
        for cover in covers:
            superseded.extend(n for n, s in self._folded.pop(cover, ()) if not s.done)
        if not slot.done:
            if key is not None:
                self._folded.setdefault(key, []).append((seq, slot))
            heapq.heappush(self._heap, (urgency, seq, slot))
        return superseded

    def choose(self) -> int | None:
        """Arrival number of the pending delivery to handle next (``None``: none)."""
        heap = self._heap
        while heap and heap[0][2].done:
            heapq.heappop(heap)
        return heap[0][1] if heap else None

    def _compact(self) -> None:
        self._since_compaction = 0
        self._heap = [e for e in self._heap if not e[2].done]
        heapq.heapify(self._heap)
        folded: dict[Hashable, list[tuple[int, Slot]]] = {}
        for key, entries in self._folded.items():
            live = [e for e in entries if not e[1].done]
            if live:
                folded[key] = live
        self._folded = folded


def _first_in(window: Sequence[Slot]) -> int | None:
    """``plan`` without an order: the oldest undecodable delivery not settled, else the oldest one.

    The consumer settles the done head of its window at once, so the first delivery not done is
    usually at index 0: no order's functions are asked and the window is not walked from its end
    (that walk was a tenth of a FIFO consumer's CPU at a full window of 100).
    """
    first: int | None = None
    for i, slot in enumerate(window):
        if not slot.done:
            if slot.message is None:
                return i
            if first is None:
                first = i
                break
    if first is None:
        return None
    for i in range(first + 1, len(window)):
        slot = window[i]
        if slot.message is None and not slot.done:
            return i
    return first


_window: ContextVar[tuple[Sequence[Slot], int]] = ContextVar("arca_bus_window", default=((), -1))


@contextmanager
def handling(window: Sequence[Slot], index: int) -> Iterator[None]:
    """While the delivery at ``index`` of ``window`` is handled, ``waiting()`` sees the rest."""
    token = _window.set((window, index))
    try:
        yield
    finally:
        _window.reset(token)


def _waiting() -> Iterator[Message]:
    window, index = _window.get()
    return (s.message for i, s in enumerate(window)
            if i != index and not s.done and s.message is not None)


def first_waiting(match: Callable[[Message], bool]) -> Message | None:
    """The first message of ``waiting()`` that ``match`` accepts (None if none), without listing
    the others: a handler that asks once per delivery in a window of a thousand walks only as far
    as the first match."""
    return next((m for m in _waiting() if match(m)), None)


def waiting() -> list[Message]:
    """Messages received by the running handler's consumer and not handled yet, in arrival order
    (empty outside a handler and on the in-memory bus)."""
    return list(_waiting())
