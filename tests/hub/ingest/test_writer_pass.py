"""A writer pass holds its packets until it ends; another thread's state never overtakes
an older one the pass made, so the retained state on the broker is the newest."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt

from hub.ingest.writer_pass import WriterPass
from tests.support import Mosquitto
from tests.support.retained import retained


def test_the_tickers_newer_state_stays_the_retained_one(
    broker: Mosquitto, base_topic: str, mqtt_client: mqtt.Client
) -> None:
    topic = f"{base_topic}/nursery/alert"
    sent = WriterPass(mqtt_client)
    sent.hold()  # the writer's pass: a reading judged, its state made
    sent.publish(topic, b"older, from the writer", qos=1, retain=True)
    # The monitor's ticker, on its own thread, makes a newer state before the pass ends.
    ticker = threading.Thread(
        target=sent.publish,
        args=(topic, b"newer, from the ticker"),
        kwargs={"qos": 1, "retain": True},
    )
    ticker.start()
    ticker.join(5)
    sent.send()
    # The broker handles a connection's packets in order: once a later publish is
    # acknowledged, it has had both states (a poll could catch the newer one in between).
    mqtt_client.publish(f"{topic}/after", b"", qos=1).wait_for_publish(5)
    # Both went out in the order they were made: the newer one is what stays retained.
    assert retained(broker.port, topic) == b"newer, from the ticker"
