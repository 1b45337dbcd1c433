"""Progress of the demo on stderr: one bar per run (strategy x timeline) with the overall ETA.

The work is planned up front as simulated seconds per run (training then reference timeline of each
strategy), so the ETA is ``wall time so far / simulated seconds done x simulated seconds left`` over
the whole plan. On a terminal the current run's line is redrawn in place (at most every
``min_interval_s``) and closed with its result; elsewhere (a pipe, a file, CI) or with ``--quiet``
nothing is written, so logs stay clean.

Nothing here reads the simulation's clock: it only measures wall time, which is what a person waits.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO


def fmt_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``."""
    s = max(0, round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


@dataclass(frozen=True)
class Task:
    """One run of the plan: ``strategy`` on ``timeline`` (``phase`` training/reference)."""

    strategy: str
    phase: str
    timeline: str
    work_s: float

    @property
    def label(self) -> str:
        return f"{self.strategy} · {self.phase} ({self.timeline})"


class Progress:
    """A plan of runs; ``start``/``step``/``done`` report each; silent when disabled."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, *, width: int = 20,
                 min_interval_s: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.tasks: list[Task] = []
        self.finished_count = 0
        self.index = -1
        self.done_work = 0.0
        self.current = 0.0
        self.t0 = clock()
        self._last_draw = -1e9

    # -- the plan --------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A line of its own (e.g. what is about to run)."""
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()

    def plan(self, tasks: Sequence[Task]) -> None:
        self.tasks = list(tasks)
        self.finished_count = 0
        self.index = -1
        self.done_work = 0.0
        self.t0 = self.clock()

    @property
    def total_work(self) -> float:
        return sum(t.work_s for t in self.tasks) or 1.0

    def eta_s(self) -> float | None:
        """Seconds left for the whole plan, from the rate so far (None before any work)."""
        done = self.done_work + self.current
        if done <= 0:
            return None
        return (self.clock() - self.t0) / done * (self.total_work - done)

    # -- one run ---------------------------------------------------------------------------------
    def start(self, strategy: str, phase: str) -> None:
        """The next run of the plan (matched by strategy and phase) begins."""
        for i in range(self.index + 1, len(self.tasks)):
            if (self.tasks[i].strategy, self.tasks[i].phase) == (strategy, phase):
                self.index = i
                break
        self.current = 0.0
        self._draw(force=True)

    def step(self, done_s: float, total_s: float) -> None:
        """``done_s`` of the current run's ``total_s`` simulated seconds are played."""
        task = self.task
        scale = task.work_s / total_s if task and total_s > 0 else 1.0
        self.current = min(done_s, total_s) * scale
        self._draw()

    def done(self, summary: str = "") -> None:
        """The current run ended; its line is closed with ``summary``."""
        task = self.task
        if task is not None:
            self.done_work += task.work_s
        self.current = 0.0
        if self.enabled and task is not None:
            self.stream.write(f"\r{self._prefix(task)} {summary}\x1b[K\n")
            self.stream.flush()

    def finished(self, strategy: str, summary: str = "") -> None:
        """Every run of ``strategy`` ended (runs in parallel processes: one line per strategy as it
        finishes, with the elapsed time and the ETA from the work done so far)."""
        mine = [t for t in self.tasks if t.strategy == strategy]
        self.done_work += sum(t.work_s for t in mine)
        self.finished_count += 1
        if not self.enabled:
            return
        strategies = len({t.strategy for t in self.tasks}) or 1
        eta = self.eta_s()
        eta_text = "" if eta is None or self.finished_count >= strategies else f", ETA {fmt_duration(eta)}"
        self.stream.write(f"[{self.finished_count:>2}/{strategies}] {strategy:<22} {summary}  "
                          f"(elapsed {fmt_duration(self.clock() - self.t0)}{eta_text})\n")
        self.stream.flush()

    @property
    def task(self) -> Task | None:
        return self.tasks[self.index] if 0 <= self.index < len(self.tasks) else None

    def _prefix(self, task: Task) -> str:
        return f"[{self.index + 1:>2}/{len(self.tasks)}] {task.label:<40}"

    def _draw(self, force: bool = False) -> None:
        task = self.task
        if not self.enabled or task is None:
            return
        now = self.clock()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        frac = self.current / task.work_s if task.work_s else 0.0
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        eta = self.eta_s()
        eta_text = "ETA …" if eta is None else f"ETA {fmt_duration(eta)}"
        self.stream.write(f"\r{self._prefix(task)} [{bar}] {frac * 100:3.0f} %  "
                          f"elapsed {fmt_duration(now - self.t0)}, {eta_text}\x1b[K")
        self.stream.flush()
