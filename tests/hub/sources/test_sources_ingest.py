"""Rooms fed by Zigbee2MQTT, ESPHome, Shelly and Tasmota: their documented payloads
replayed through a real Mosquitto into the real hub, quirks included, checked where a
parent looks (the history API, the rooms, the alerts and the pushes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from tests.support import Mosquitto, StartHub, wait_until
from tests.support.alerting import settings_for
from tests.support.homeassistant import render
from tests.support.push import Receiver
from tests.support.sources import alerts, publish, readings, room, shelly_status


def test_a_zigbee2mqtt_sensor_feeds_a_room_once_per_message_and_its_availability(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    z2m = f"{base_topic}-z2m"
    source = {
        "room": "nursery",
        "kind": "zigbee2mqtt",
        "device": "nursery/sensor",
        "base_topic": z2m,
    }
    settings = settings_for(tmp_path, broker, base_topic, receivers(), hub={"sources": [source]})
    hub = start_hub(settings)
    state = f"{z2m}/nursery/sensor"  # a friendly name may hold '/'
    message = {
        "temperature": 19.5,
        "humidity": 48,
        "battery": 90,
        "linkquality": 120,
        "voltage": 3000,
    }
    publish(mqtt_client, state, message)
    wait_until(lambda: readings(hub, "nursery"), what="the Zigbee reading in the history")
    publish(mqtt_client, state, message)  # the same message again: stored once
    publish(mqtt_client, state, {**message, "temperature": 19.7})  # only on change
    wait_until(lambda: len(readings(hub, "nursery")) >= 2, what="the changed reading")
    points = readings(hub, "nursery")
    assert [p["temperature_c"] for p in points] == [19.5, 19.7]
    assert [p["humidity_pct"] for p in points] == [48, 48]
    shown = room(hub, "nursery")
    assert shown is not None
    assert shown["source"] == "Zigbee2MQTT: nursery/sensor"
    assert "at least about hourly" in shown["reporting"]
    assert shown["stale_after_s"] == 3900
    assert not shown["stale"]

    publish(mqtt_client, f"{state}/availability", {"state": "offline"}, retain=True)
    wait_until(lambda: room(hub, "nursery")["status"] == "offline", what="the room offline")  # type: ignore[index]
    publish(mqtt_client, f"{state}/availability", "online", retain=True)  # before Z2M 2.0
    wait_until(lambda: room(hub, "nursery")["status"] == "online", what="the room online")  # type: ignore[index]
    assert len(readings(hub, "nursery")) == 2
    # A payload Zigbee2MQTT would never send is counted and logged; the hub goes on.
    publish(mqtt_client, state, b'{"temperature": "cold"}')
    wait_until(lambda: hub.get("/healthz").json()["messages"]["rejected"] == 1, what="rejected")
    publish(mqtt_client, state, {**message, "temperature": 19.9})
    wait_until(lambda: len(readings(hub, "nursery")) == 3, what="readings after the bad one")


def test_esphome_retained_states_are_not_fresh_readings_until_the_node_speaks(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    node = f"{base_topic}-node"
    # What the node left on the broker hours ago: ESPHome retains its states by default.
    publish(mqtt_client, f"{node}/sensor/nursery_temperature/state", "22.10", retain=True)
    publish(mqtt_client, f"{node}/sensor/nursery_humidity/state", "51.0", retain=True)
    publish(mqtt_client, f"{node}/status", "online", retain=True)
    source = {"room": "nursery", "kind": "esphome", "device": node, "stale_after_s": 2.0}
    settings = settings_for(tmp_path, broker, base_topic, receivers(), hub={"sources": [source]})
    hub = start_hub(settings)
    wait_until(lambda: room(hub, "nursery"), what="the room from its retained status")
    # A retained temperature of unknown age never counts as the room now: no data.
    wait_until(lambda: alerts(hub, "no_data"), what="no readings from the silent node")
    assert readings(hub, "nursery") == []

    publish(mqtt_client, f"{node}/sensor/wifi_signal/state", "-61")  # not ours to judge
    publish(mqtt_client, f"{node}/sensor/nursery_temperature/state", "20.40")
    wait_until(lambda: readings(hub, "nursery"), what="the fresh reading")
    first = readings(hub, "nursery")[0]
    # The fresh temperature, with the humidity the node last left (it informs advisories).
    assert (first["temperature_c"], first["humidity_pct"]) == (20.4, 51.0)
    sent = iter(range(1000))

    def speaks() -> bool:
        publish(mqtt_client, f"{node}/sensor/nursery_humidity/state", f"{50 + next(sent) / 100}")
        return any(a["state"] == "resolved" for a in alerts(hub, "no_data"))

    wait_until(speaks, what="no data resolved by fresh readings")
    publish(mqtt_client, f"{node}/status", "offline", retain=True)  # its last will
    wait_until(lambda: room(hub, "nursery")["status"] == "offline", what="the node offline")  # type: ignore[index]


def test_a_sleepy_shelly_is_given_its_own_silence_limit_and_the_push_says_how_often(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    device = f"{base_topic}-shellyhtg3"
    receiver = receivers()
    # The rules' limit is 2 s (FAST_RULES); this sleepy device gets 4 s of its own.
    source = {"room": "nursery", "kind": "shelly", "device": device, "stale_after_s": 4.0}
    settings = settings_for(tmp_path, broker, base_topic, receiver, hub={"sources": [source]})
    hub = start_hub(settings)
    power = {"devicepower:0": {"id": 0, "battery": {"V": 5.9, "percent": 80}}}
    status = shelly_status(19.0, 47.5, extra=power)
    publish(mqtt_client, f"{device}/events/rpc", status)
    full = {**status, "method": "NotifyFullStatus"}  # the same moment, its full status
    publish(mqtt_client, f"{device}/events/rpc", full)
    publish(mqtt_client, f"{device}/online", "true", retain=True)
    wait_until(lambda: readings(hub, "nursery"), what="the Shelly reading")
    opened = wait_until(lambda: alerts(hub, "no_data"), what="no readings after its own limit")
    assert len(readings(hub, "nursery")) == 1, "one notification stored twice"
    [alert] = opened
    assert alert["threshold"] == 4.0
    silent_for = _seconds(alert["opened_at"]) - _seconds(alert["since"])
    assert silent_for >= 4.0, f"no data after {silent_for:.1f} s, before the device's limit"
    wait_until(lambda: receiver.answered, what="the no-data push")
    body = str(receiver.answered[0].json()["message"])
    assert "wakes and reports about every 10 minutes" in body
    assert f"The readings come from Shelly: {device}: check its battery" in body
    assert "±0.5" not in body, "a Pi's accuracy claimed for someone else's sensor"


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_tasmota_in_fahrenheit_raises_a_cold_alert_in_celsius_and_its_lwt_is_the_status(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    topic = f"{base_topic}-th"
    source = {"room": "nursery", "kind": "tasmota", "device": topic, "stale_after_s": 30.0}
    settings = settings_for(tmp_path, broker, base_topic, receivers(), hub={"sources": [source]})
    hub = start_hub(settings)
    publish(mqtt_client, f"tele/{topic}/LWT", "Online", retain=True)
    wait_until(lambda: (r := room(hub, "nursery")) and r["status"] == "online", what="online")
    second = 0

    def sensor(fahrenheit: float) -> None:
        nonlocal second
        second += 1
        publish(
            mqtt_client,
            f"tele/{topic}/SENSOR",
            {
                "Time": f"2026-12-05T03:00:{second:02d}",
                "AM2301": {"Temperature": fahrenheit, "Humidity": 44.0, "DewPoint": 40.1},
                "TempUnit": "F",
            },
        )

    def cold() -> bool:
        sensor(57.2)  # 14 °C
        return any(a["state"] != "resolved" for a in alerts(hub, "cold"))

    wait_until(cold, what="a cold alert from readings in °F")
    assert {p["temperature_c"] for p in readings(hub, "nursery")} == {14.0}
    publish(mqtt_client, f"tele/{topic}/LWT", "Offline", retain=True)
    wait_until(lambda: room(hub, "nursery")["status"] == "offline", what="the device offline")  # type: ignore[index]


def test_a_low_battery_is_a_calm_advisory_before_it_becomes_silence(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    z2m = f"{base_topic}-z2m"
    receiver = receivers()
    source = {"room": "nursery", "kind": "zigbee2mqtt", "device": "th", "base_topic": z2m}
    settings = settings_for(tmp_path, broker, base_topic, receiver, hub={"sources": [source]})
    hub = start_hub(settings)
    publish(mqtt_client, f"{z2m}/th", {"temperature": 18.5, "humidity": 50, "battery": 15})
    [advisory] = wait_until(lambda: alerts(hub, "low_battery"), what="the battery advisory")
    assert advisory["severity"] == "advisory"
    assert advisory["value"] == 15
    wait_until(lambda: receiver.titles(), what="the battery push")
    assert receiver.titles() == ["Nursery: sensor battery low"]
    body = str(receiver.answered[0].json()["message"])
    assert "Nothing urgent" in body and "15 %" in body
    publish(mqtt_client, f"{z2m}/th", {"temperature": 18.6, "humidity": 50, "battery": 100})
    wait_until(
        lambda: all(a["state"] == "resolved" for a in alerts(hub, "low_battery")),
        what="the advisory resolved by new batteries and a fresh reading",
    )


def test_a_pi_publishing_for_a_source_room_is_refused_not_mixed_in(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    z2m = f"{base_topic}-z2m"
    source = {"room": "nursery", "kind": "zigbee2mqtt", "device": "th", "base_topic": z2m}
    settings = settings_for(tmp_path, broker, base_topic, receivers(), hub={"sources": [source]})
    hub = start_hub(settings)
    pi = ReadingMessage("nursery", new_boot_id(), 0, datetime.now(UTC), 25.0, 40.0)
    publish(mqtt_client, reading_topic(base_topic, "nursery"), pi.encode())
    publish(mqtt_client, f"{z2m}/th", {"temperature": 18.5, "humidity": 50})
    wait_until(lambda: readings(hub, "nursery"), what="the Zigbee reading")
    assert [p["temperature_c"] for p in readings(hub, "nursery")] == [18.5]
    assert hub.get("/healthz").json()["messages"]["rejected"] == 1


def test_home_assistant_reads_a_source_rooms_temperature_from_the_hubs_room_state(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    z2m = f"{base_topic}-z2m"
    source = {"room": "nursery", "kind": "zigbee2mqtt", "device": "th", "base_topic": z2m}
    settings = settings_for(tmp_path, broker, base_topic, receivers(), hub={"sources": [source]})
    retained: dict[str, bytes] = {}
    mqtt_client.on_message = lambda c, u, m: retained.__setitem__(m.topic, bytes(m.payload))
    mqtt_client.subscribe([("homeassistant/device/+/config", 1), (f"{base_topic}/+/state", 1)])
    start_hub(settings)
    publish(mqtt_client, f"{z2m}/th", {"temperature": 18.5, "humidity": 50})

    def temperature_entity() -> dict[str, Any] | None:
        for payload in list(retained.values()):
            config = json.loads(payload) if payload.startswith(b"{") else {}
            ours = config.get("cmps", {}).get("alert", {}).get("state_topic", "")
            if ours.startswith(f"{base_topic}/") and "Zigbee2MQTT: th" in config["dev"]["mdl"]:
                return config["cmps"]  # type: ignore[no-any-return]
        return None

    parts = wait_until(temperature_entity, what="the room's discovery config")
    assert "humidity" not in parts  # Zigbee2MQTT's own entity has it
    entity = parts["temperature"]
    assert entity["expire_after"] == 3900
    state = entity["state_topic"]
    shown = wait_until(
        lambda: state in retained and render(entity["value_template"], retained[state]) == "18.5",
        what="Home Assistant's temperature for the room",
    )
    assert shown
