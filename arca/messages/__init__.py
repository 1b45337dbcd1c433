"""Bus messages: typed models and their lossless RDF wire codec."""

from arca.messages.codec import CONTENT_TYPE, MessageError, decode, encode
from arca.messages.models import (
    MESSAGE_TYPES,
    ActiveIncident,
    Alarm,
    Decision,
    Enforcement,
    ExternalEvent,
    Message,
    Observation,
    PolicyUpdated,
    Situation,
    TopologyChange,
    new_id,
)

__all__ = [
    "CONTENT_TYPE",
    "MESSAGE_TYPES",
    "ActiveIncident",
    "Alarm",
    "Decision",
    "Enforcement",
    "ExternalEvent",
    "Message",
    "MessageError",
    "Observation",
    "PolicyUpdated",
    "Situation",
    "TopologyChange",
    "decode",
    "encode",
    "new_id",
]
