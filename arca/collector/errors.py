"""The one error every collector adapter raises for input it refuses.

``reason`` is a low-cardinality class (the ``reason`` label of ``arca_messages_rejected_total``),
``path`` names the failing field (a JSON/XML path), ``detail`` says what is wrong in words.

Answered two ways: the RESTCONF event endpoint answers as RFC 8040 section 7.1 says a RESTCONF
server does (``restconf_errors``: ``ietf-restconf:errors`` in ``application/yang-data+json``, the
error-tag from the status as in RFC 8040's table, the reason as ``error-app-tag``); the other inputs
(CAP, OSM webhooks) answer RFC 7807 problem documents (``problem``).
"""

from __future__ import annotations

RESTCONF_ERRORS_TYPE = "application/yang-data+json"
"""Media type of RFC 8040 errors (JSON encoding)."""

TAG_OF_STATUS: dict[int, tuple[str, str]] = {
    400: ("application", "invalid-value"),
    401: ("protocol", "access-denied"),
    403: ("protocol", "access-denied"),
    404: ("protocol", "invalid-value"),
    405: ("protocol", "operation-not-supported"),
    406: ("protocol", "invalid-value"),
    409: ("application", "resource-denied"),
    413: ("transport", "too-big"),
    415: ("protocol", "operation-not-supported"),
    422: ("application", "invalid-value"),
    429: ("transport", "resource-denied"),
    500: ("application", "operation-failed"),
    501: ("protocol", "operation-not-supported"),
    503: ("transport", "resource-denied"),
}
"""HTTP status -> (error-type, error-tag) of RFC 8040 section 7's table (statuses it does not list:
415 and 429/503 as the nearest tags, operation-not-supported and resource-denied)."""


def restconf_error(status: int, message: str, *, path: str = "", app_tag: str = "",
                   malformed: bool = False, unknown: bool = False) -> dict[str, object]:
    """One RFC 8040 ``ietf-restconf:errors`` document of one error. ``malformed``: the body is not
    even JSON/XML (``malformed-message``); ``unknown``: a member the model does not have
    (``unknown-element``); otherwise the tag follows the status."""
    error_type, tag = TAG_OF_STATUS.get(status, ("application", "operation-failed"))
    if status == 400 and malformed:
        error_type, tag = "rpc", "malformed-message"
    elif status == 400 and unknown:
        error_type, tag = "protocol", "unknown-element"
    error: dict[str, object] = {"error-type": error_type, "error-tag": tag}
    if app_tag:
        error["error-app-tag"] = app_tag
    if path:
        error["error-path"] = path
    error["error-message"] = message
    return {"ietf-restconf:errors": {"error": [error]}}


class IngestError(ValueError):
    """Refused input: which field, which class of problem, and why."""

    def __init__(self, reason: str, path: str, detail: str, *, status: int = 400,
                 retry_after_s: int | None = None) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.reason = reason
        self.path = path
        self.detail = detail
        self.status = status
        self.retry_after_s = retry_after_s
        """Seconds after which the sender may try again (a 429's ``Retry-After``)."""
        self.counted = False  # set once the refusal was counted (``Ingestor.reject``)

    def restconf_errors(self) -> dict[str, object]:
        """RFC 8040 errors (``application/yang-data+json``): error-path when the fault is in the
        data (a path from the document's root), the reason as error-app-tag."""
        in_data = self.path.startswith("/")  # "/": the whole body, no error-path
        return restconf_error(self.status, self.detail if in_data else str(self),
                              path=self.path if in_data and self.path != "/" else "", app_tag=self.reason,
                              malformed=self.reason in ("json", "xml"),
                              unknown="unknown member" in self.detail)

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
