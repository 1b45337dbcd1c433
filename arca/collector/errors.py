"""The one error every collector adapter raises for input it refuses.

``reason`` is a low-cardinality class (the ``reason`` label of ``arca_messages_rejected_total``),
``path`` names the failing field (a JSON/XML path), ``detail`` says what is wrong in words.
"""

from __future__ import annotations


class IngestError(ValueError):
    """Refused input: which field, which class of problem, and why."""

    def __init__(self, reason: str, path: str, detail: str, *, status: int = 400) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.reason = reason
        self.path = path
        self.detail = detail
        self.status = status
        self.counted = False  # set once the refusal was counted (``Ingestor.reject``)

    def problem(self, title: str = "Invalid input") -> dict[str, object]:
        """RFC 7807 problem document (``application/problem+json``)."""
        return {
            "type": f"https://w3id.org/arca/problems/{self.reason}",
            "title": title,
            "status": self.status,
            "detail": str(self),
            "reason": self.reason,
            "path": self.path,
        }
