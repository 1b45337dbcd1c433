"""Publisher confirms per publisher on the real broker: ``publish_tracked`` + ``wait_confirmed``.

Concurrent publishers (the collector's HTTP threads) each wait for their own messages only: a nack
of one publisher's message (a full queue that rejects publishes) fails that publisher's wait and
no other's, and many threads waiting at once are all answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from spine_helpers import bus_settings, obs

from arca.bus.rabbitmq import BusError, RabbitBus

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def bus(rabbit_url: str, unique: str) -> Iterator[RabbitBus]:
    b = RabbitBus(bus_settings(rabbit_url, unique))
    # "full" is over its length once it holds two messages (a quorum queue refuses publishes only
    # when over it): the broker then nacks what is routed to it (reject-publish)
    b.declare(f"t-{unique}.full", ["observation.full"], {"x-max-length": 1, "x-overflow": "reject-publish"})
    b.declare(f"t-{unique}.ok", ["observation.ok"])
    b.start()
    b.wait_confirmed([b.publish_tracked(obs("full")), b.publish_tracked(obs("full"))], 10)  # fills it
    yield b
    b.stop()


def test_a_nack_fails_only_the_wait_of_the_publisher_whose_message_it_was(bus: RabbitBus) -> None:
    refused = bus.publish_tracked(obs("full"))
    accepted = bus.publish_tracked(obs("ok"))
    bus.wait_confirmed([accepted], 10)  # the other publisher's nack is not this one's error
    with pytest.raises(BusError, match="nacked"):
        bus.wait_confirmed([refused], 10)
    bus.flush(10)  # the nack was reported to its publisher: nothing left to report


def test_many_threads_wait_together_each_for_its_own_messages(bus: RabbitBus) -> None:
    errors: list[str] = []
    outcomes: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def publisher(n: int) -> None:
        start.wait()
        for i in range(50):
            system = "full" if (n + i) % 7 == 0 else "ok"
            ticket = bus.publish_tracked(obs(system, i / 50))
            try:
                bus.wait_confirmed([ticket], 20)
                ok = True
            except BusError as exc:
                ok = False
                if "nacked" not in str(exc):
                    with lock:
                        errors.append(str(exc))
            with lock:
                outcomes.append(ok == (system == "ok"))

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(outcomes) == 16 * 50 and all(outcomes)  # each saw exactly its own message's fate
