"""The hub's own availability topic on a broker without an ACL (the demo's, or a user's
own): a retained "offline" published by someone else must not leave Home Assistant showing
every room unavailable while the hub runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.topics import hub_availability_topic
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, hub_settings, wait_until
from tests.support.retained import retained


def publish_retained(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_forged_retained_offline_is_answered_with_online(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    start_hub(hub_settings(tmp_path, broker.port, base_topic))
    topic = hub_availability_topic(base_topic)
    wait_until(lambda: retained(broker.port, topic) == b"online", what="the hub's online")

    publish_retained(broker.port, topic, b"offline")

    wait_until(
        lambda: retained(broker.port, topic) == b"online",
        timeout=10,
        what="the hub to publish online again over a forged retained offline",
    )


def test_a_stopped_hub_stays_offline(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    """The guard must not fight the hub's own goodbye."""
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    topic = hub_availability_topic(base_topic)
    wait_until(lambda: retained(broker.port, topic) == b"online", what="the hub's online")
    hub.stop()
    assert retained(broker.port, topic) == b"offline"
