"""Processes as /proc shows them, for the tests that count what a process started or left behind
(collector HTTP workers, the standalone stack, the decider's fitting helper)."""

from __future__ import annotations

from pathlib import Path


def _stat_fields(pid: str | int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first, then the parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def parents() -> dict[int, int]:
    """Every process's parent pid."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None:
                out[int(entry.name)] = int(fields[1])
    return out


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    return [child for child, parent in parents().items() if parent == pid]


def descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid``."""
    tree = parents()
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in tree.items() if pp in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"
