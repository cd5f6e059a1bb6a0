"""The hub's and the firmware's MQTT client sleeps between packets, yet keeps its
connection alive, publishes at once and stops at once (a real Mosquitto)."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqttlink.client import MAX_WAKE_S, QuietClient, wake_every_s
from tests.support import Mosquitto, wait_until


def _client(broker: Mosquitto, keepalive: int) -> tuple[QuietClient, list[object]]:
    client = QuietClient(CallbackAPIVersion.VERSION2, client_id=f"quiet-{uuid.uuid4().hex[:8]}")
    drops: list[object] = []
    client.on_disconnect = lambda _c, _u, _f, reason, _p: drops.append(reason)
    client.connect("127.0.0.1", broker.port, keepalive=keepalive)
    client.loop_start()
    wait_until(client.is_connected, timeout=10, what="the client connected")
    return client, drops


def test_wakes_at_a_quarter_of_the_keepalive() -> None:
    assert wake_every_s(30) == 7.5
    assert wake_every_s(1) == 0.25
    assert wake_every_s(0) == MAX_WAKE_S  # no keepalive: still looks once a minute
    assert wake_every_s(3600) == MAX_WAKE_S


@pytest.mark.slow
def test_an_idle_connection_stays_up(broker: Mosquitto) -> None:
    """The broker drops a client silent for 1.5 × keepalive: the pings must still go out
    on time although the thread no longer wakes every second. (Mosquitto 2.0 looks every
    few seconds: a client sending nothing with keepalive 2 was dropped after about 6 s.)"""
    client, drops = _client(broker, keepalive=2)
    try:
        deadline = time.monotonic() + 10  # five keepalives without a single publish
        while time.monotonic() < deadline:
            assert not drops, f"the broker dropped an idle client: {drops}"
            time.sleep(0.1)
        assert client.is_connected()
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_publish_goes_out_without_waiting_for_the_next_wake(broker: Mosquitto) -> None:
    topic = f"test/quiet/{uuid.uuid4().hex[:8]}"
    got, subscribed = threading.Event(), threading.Event()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2)
    listener.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_message = lambda *_: got.set()
    listener.connect("127.0.0.1", broker.port)
    listener.loop_start()
    client, _ = _client(broker, keepalive=240)  # the thread sleeps up to 60 s
    try:
        assert subscribed.wait(10)
        time.sleep(0.5)  # let the network thread settle into its long select()
        started = time.monotonic()
        client.publish(topic, b"now", qos=1)
        assert got.wait(10)
        assert time.monotonic() - started < 2, "the publish waited for the thread to wake"
        started = time.monotonic()
        client.disconnect()
        client.loop_stop()
        assert time.monotonic() - started < 2, "stopping waited for the thread to wake"
    finally:
        listener.disconnect()
        listener.loop_stop()
