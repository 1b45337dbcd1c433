"""The publisher's short paths on the real broker: confirms reach ``_on_confirm`` without pika's callback
registry, a message's frames are written in one piece, and a ``wait_confirmed`` waiter wakes once.

What could go wrong with them: a confirm lost (a wait that never returns), a confirm of another
channel taken for ours, frames reordered or counted wrong (the broker would close the connection).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pika.callback
import pika.spec
import pytest
from spine_helpers import bus_settings, obs

from arca.bus.rabbit_connection import _ConfirmingConnection
from arca.bus.rabbit_core import _Waiter
from arca.bus.rabbitmq import RabbitBus
from arca.messages import Observation


@pytest.fixture
def bus(rabbit_url: str, unique: str) -> Iterator[RabbitBus]:
    b = RabbitBus(bus_settings(rabbit_url, unique))
    b.declare(f"t-{unique}.sink", ["observation.#"])
    b.start()
    yield b
    b.stop()


@pytest.mark.rabbitmq
def test_confirms_bypass_pikas_callback_registry_and_every_wait_returns(
        bus: RabbitBus, monkeypatch: pytest.MonkeyPatch) -> None:
    through_registry: list[type] = []
    real = pika.callback.CallbackManager.process

    def process(self: Any, prefix: Any, key: Any, caller: Any, *args: Any, **kwargs: Any) -> bool:
        if key in (pika.spec.Basic.Ack, pika.spec.Basic.Nack) or type(key) in (pika.spec.Basic.Ack,
                                                                                 pika.spec.Basic.Nack):
            through_registry.append(key if isinstance(key, type) else type(key))
        return bool(real(self, prefix, key, caller, *args, **kwargs))

    monkeypatch.setattr(pika.callback.CallbackManager, "process", process)
    assert isinstance(bus._conn, _ConfirmingConnection)
    frames_before = bus._conn.frames_received
    tickets = [bus.publish_tracked(obs("s", i / 100)) for i in range(100)]
    bus.wait_confirmed(tickets, 20)
    assert not bus._inflight and not bus._waiters
    assert through_registry == []  # on the old path every Basic.Ack went through the registry
    assert bus._conn.frames_received > frames_before  # confirm frames still counted as received


@pytest.mark.rabbitmq
def test_frames_written_together_keep_the_connection_open_and_the_messages_whole(
        rabbit_url: str, unique: str) -> None:
    received: list[Observation] = []
    got = threading.Event()
    consumer = RabbitBus(bus_settings(rabbit_url, unique))

    def handle(message: Any) -> None:
        received.append(message)
        if len(received) == 50:
            got.set()

    consumer.subscribe(f"t-{unique}.whole", ["observation.#"], handle)
    consumer.start()
    publisher = RabbitBus(bus_settings(rabbit_url, unique))
    publisher.start()
    held: list[int] = []  # messages per corked write
    real_uncork = _ConfirmingConnection.uncork

    def uncork(self: _ConfirmingConnection) -> None:
        held.append(len(self._corked or []))
        real_uncork(self)

    try:
        assert isinstance(publisher._conn, _ConfirmingConnection)
        sent_before = publisher._conn.frames_sent
        messages = [obs(f"s{i}", i / 50) for i in range(50)]
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_ConfirmingConnection, "uncork", uncork)
            with publisher._lock:  # the I/O thread cannot take the outbox until all 50 are in it
                publisher._wake_scheduled = True
            tickets = [publisher.publish_tracked(m) for m in messages]
            with publisher._lock:
                publisher._wake_scheduled = False
            publisher._threadsafe(publisher._send_outbox)
            publisher.wait_confirmed(tickets, 20)
        assert held == [50]  # one write for the whole batch
        assert publisher._conn.frames_sent - sent_before >= 3 * 50  # method, header, body each
        assert got.wait(20)
        assert sorted(m.message_id for m in received) == sorted(m.message_id for m in messages)
        assert publisher.connections == 1 and consumer.connections == 1  # no protocol error closed them
    finally:
        publisher.stop()
        consumer.stop()


def test_a_waiter_wakes_once_from_another_thread_and_times_out_when_not_woken() -> None:
    idle = _Waiter()
    started = time.monotonic()
    assert idle.wait(0.05) is False
    assert time.monotonic() - started >= 0.04
    woken = _Waiter()
    threading.Timer(0.02, woken.wake).start()
    assert woken.wait(5) is True
    late = _Waiter()
    late.wake()  # woken before anyone waits (its messages were confirmed already)
    assert late.wait(0) is True


@pytest.mark.rabbitmq
def test_a_message_being_sent_is_never_counted_confirmed_by_a_flush(bus: RabbitBus) -> None:
    # ``_send_outbox`` used to clear the outbox before sending the batch one message at a time: in
    # between, a message was neither in the outbox nor among the unconfirmed, and ``flush`` (from any
    # other thread: a service stopping, the store writer) took it for confirmed and returned early
    gate = threading.Event()
    held = threading.Event()
    bus._threadsafe(lambda: (held.set(), gate.wait(30)))  # the I/O thread waits: the three are one batch
    assert held.wait(30)
    channel = bus._channel
    assert channel is not None
    real = channel.basic_publish
    lows: list[int] = []  # pending_min (the smallest seq not yet confirmed) at each publish, in order

    def publish(*args: Any, **kwargs: Any) -> None:
        with bus._lock:
            lows.append(bus._pending_min())
        real(*args, **kwargs)

    channel.basic_publish = publish  # type: ignore[method-assign]
    try:
        seqs = [bus.publish_tracked(obs("s", i / 10)) for i in range(3)]
        gate.set()
        bus.flush(20)
        assert not bus._inflight  # flush returned once all three were confirmed
    finally:
        gate.set()
        channel.basic_publish = real  # type: ignore[method-assign]
    assert len(lows) == len(seqs) == 3
    assert all(low <= seq for low, seq in zip(lows, seqs, strict=True))  # never confirmed while being sent
