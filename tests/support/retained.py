"""What a client subscribing now is handed as a topic's retained message."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def retained(port: int, topic: str) -> bytes:
    """The retained message of `topic` on the broker at 127.0.0.1:`port` (queue.Empty
    after 5 s without one)."""
    got: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_connect = lambda c, u, f, reason, p: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, m: got.put(bytes(m.payload)) if m.retain else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return got.get(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()
