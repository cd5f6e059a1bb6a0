"""A room fed by another system's sensor on the dashboard, in a real browser: its source,
how often it reports and its accuracy, beside its reading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from playwright.sync_api import expect

from tests.support import Mosquitto, StartHub, hub_settings
from tests.support.browser import Phone
from tests.support.sources import publish


def test_a_zigbee_room_shows_its_source_cadence_and_accuracy(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
    phone: Callable[..., Phone],
) -> None:
    z2m = f"{base_topic}-z2m"
    sources = [
        {
            "room": "nursery",
            "kind": "zigbee2mqtt",
            "device": "nursery-sensor",
            "base_topic": z2m,
            "accuracy_c": 0.3,
        },
    ]
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic, hub={"sources": sources}))
    publish(
        mqtt_client, f"{z2m}/nursery-sensor", {"temperature": 18.7, "humidity": 52, "battery": 96}
    )
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")
    expect(card.locator(".temp-value")).to_have_text("18.7")
    source = card.locator(".source")
    expect(source).to_be_visible()
    expect(source).to_contain_text("Zigbee2MQTT: nursery-sensor")
    expect(source).to_contain_text("at least about hourly")
    expect(source).to_contain_text("Accuracy about ±0.3 °C")
    assert tab.errors == []
