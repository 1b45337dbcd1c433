"""Message bus: one interface, an in-process implementation and a RabbitMQ one."""

from arca.bus.base import REASON_HEADER, Bus, DeadLetter, Handler, Reject, topic_matches
from arca.bus.memory import InMemoryBus

__all__ = ["REASON_HEADER", "Bus", "DeadLetter", "Handler", "InMemoryBus", "Reject", "topic_matches"]
