"""The hub's paho client shares one wake of its network thread among a pass's packets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.ingest.wakes import OneWakeClient
from tests.support import Mosquitto, wait_until

TOPIC = "wakes/test"


@contextmanager
def publisher_and_received(broker: Mosquitto) -> Iterator[tuple[OneWakeClient, list[bytes]]]:
    """A connected OneWakeClient (a 4-minute keepalive: its thread sleeps a minute at a
    time) and the payloads a subscriber on TOPIC receives, in order."""
    got: list[bytes] = []
    ready = threading.Event()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscriber.on_subscribe = lambda *args: ready.set()
    subscriber.on_message = lambda c, u, message: got.append(bytes(message.payload))
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.subscribe(TOPIC, qos=1)
    subscriber.loop_start()
    publisher = OneWakeClient(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", broker.port, keepalive=240)
    publisher.loop_start()
    try:
        assert ready.wait(10)
        wait_until(publisher.is_connected, timeout=10, what="the publisher to connect")
        yield publisher, got
    finally:
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()


def test_what_one_wake_queues_goes_out_at_its_end_in_order(broker: Mosquitto) -> None:
    """The packets are sent as soon as the block ends, not at the network thread's next
    timeout (a minute here), and in the order they were published."""
    with publisher_and_received(broker) as (publisher, got):
        infos = []
        with publisher.one_wake():
            for n in range(5):
                infos.append(publisher.publish(TOPIC, str(n).encode(), qos=1))
            with publisher.one_wake():  # nested: the outer block wakes
                infos.append(publisher.publish(TOPIC, b"5", qos=1))
        wait_until(lambda: len(got) == 6, timeout=5, what="all six messages")
        assert got == [str(n).encode() for n in range(6)]
        wait_until(lambda: all(i.is_published() for i in infos), timeout=5, what="the PUBACKs")


def test_other_threads_publish_as_paho_does_meanwhile(broker: Mosquitto) -> None:
    """Only the holding thread's packets wait for its wake: another thread's go out at once."""
    with publisher_and_received(broker) as (publisher, got):
        with publisher.one_wake():
            publisher.publish(TOPIC, b"held", qos=1)
            other = threading.Thread(target=publisher.publish, args=(TOPIC, b"other", 1))
            other.start()
            other.join()
            wait_until(lambda: b"other" in got, timeout=5, what="the other thread's message")
        wait_until(lambda: b"held" in got, timeout=5, what="the held message")
