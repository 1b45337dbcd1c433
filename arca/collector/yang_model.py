"""The detector-event YANG data model (yangson), built once from the YANG library shipped in ``yang/``.

yangson validates RFC 7951 JSON instances of the module's notification ``event`` and of its
``events/event-payloads`` subtree; its exceptions are turned into ``IngestError`` naming the path.

yangson is not thread-safe (one 500 in ~80,000 requests at 64 connections was measured with a
shared model), so each thread builds its own data model on first use (~20 ms, a few hundred kB;
the HTTP server's threads are a fixed pool): validation takes no lock and threads never contend.
"""

from __future__ import annotations

import threading
from typing import Any

from yangson import DataModel
from yangson.enumerations import ContentType
from yangson.exceptions import RawDataError, ValidationError, YangsonException

from arca.collector.errors import IngestError
from arca.namespace import YANG_DIR

MODULE = "ietf-nmrg-nict-resource-anticipation"
NOTIFICATION = f"{MODULE}:event"
YANG_LIBRARY = YANG_DIR / "yang-library.json"


_local = threading.local()


def data_model() -> DataModel:
    """This thread's yangson data model of ``yang/yang-library.json`` (modules looked up in ``yang/``)."""
    model: DataModel | None = getattr(_local, "model", None)
    if model is None:
        model = _local.model = DataModel.from_file(str(YANG_LIBRARY), [str(YANG_DIR)])
    return model


def _yang_error(exc: YangsonException, prefix: str) -> IngestError:
    if isinstance(exc, RawDataError):
        path = exc.path
    elif isinstance(exc, ValidationError):
        path = str(exc.instance.json_pointer())
    else:
        path = ""
    path = path.replace(f"{MODULE}:", "")
    text = str(exc)
    if isinstance(exc, RawDataError) and not getattr(exc, "message", None):
        text = f"{{{exc.path}}} unknown member"
    return IngestError("yang", f"{prefix}{path}", f"not valid against {MODULE}: {text}")


def validate_notification(content: dict[str, Any], prefix: str) -> None:
    """Validate the members of one ``event`` notification (the object under ``<module>:event``)."""
    try:
        inst = data_model().from_raw(content, subschema=NOTIFICATION)
        inst.validate(ctype=ContentType.all)
    except YangsonException as exc:
        raise _yang_error(exc, prefix) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. yangson decoding a non-base64 binary
        raise IngestError("yang", prefix, f"not valid against {MODULE}: {exc}") from None


def validate_data(document: dict[str, Any], prefix: str) -> None:
    """Validate an RFC 7951 data tree of the module (e.g. ``{"<module>:events": {...}}``)."""
    try:
        inst = data_model().from_raw(document)
        inst.validate(ctype=ContentType.all)
    except YangsonException as exc:
        raise _yang_error(exc, prefix) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. yangson decoding a non-base64 binary
        raise IngestError("yang", prefix, f"not valid against {MODULE}: {exc}") from None
