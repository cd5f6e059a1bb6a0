"""`nursery rooms add`: the sensors these systems leave on a real broker are listed, the
parent picks one by number, and the lines printed are a `hub.sources` entry that loads."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import paho.mqtt.client as mqtt

from nursery.config import Settings
from tests.support import Mosquitto
from tests.support.cli import nursery
from tests.support.sources import publish


def test_rooms_add_lists_what_each_system_left_on_the_broker_and_prints_the_entry(
    tmp_path: Path, broker: Mosquitto, base_topic: str, mqtt_client: mqtt.Client
) -> None:
    z2m = f"{base_topic}-z2m"
    devices = [
        {"friendly_name": "Coordinator", "type": "Coordinator"},
        {
            "friendly_name": "kids/th",
            "type": "EndDevice",
            "definition": {
                "vendor": "Aqara",
                "model": "WSDCGQ11LM",
                "exposes": [{"type": "numeric", "name": "temperature", "property": "temperature"}],
            },
        },
    ]
    publish(mqtt_client, f"{z2m}/bridge/devices", devices, retain=True)
    node = f"{base_topic}-node"
    publish(mqtt_client, f"{node}/sensor/room_temperature/state", "20.1", retain=True)
    mac = base_topic.upper()
    publish(
        mqtt_client,
        f"tasmota/discovery/{mac}/sensors",
        {"sn": {"SI7021": {"Temperature": 19.5}}},
        retain=True,
    )
    publish(mqtt_client, f"tasmota/discovery/{mac}/config", {"t": f"{base_topic}-th"}, retain=True)

    run = nursery(
        tmp_path,
        "rooms",
        "add",
        "--listen-s",
        "2",
        input="",  # first, only the list: no answer adds nothing
        NURSERY_MQTT__HOST="127.0.0.1",
        NURSERY_MQTT__PORT=str(broker.port),
    )
    assert run.returncode == 2, run.stderr
    listed = dict(re.findall(r"^\s+(\d+)\. (.+)$", run.stdout, re.MULTILINE))
    by_name = {text.split(" — ")[0]: number for number, text in listed.items()}
    assert "Listened 2 s" in run.stderr
    assert f"ESPHome: {node}" in by_name
    assert f"Tasmota: {base_topic}-th" in by_name
    assert "Zigbee2MQTT: Coordinator" not in by_name  # no temperature sensor
    number = by_name["Zigbee2MQTT: kids/th"]
    assert "Aqara WSDCGQ11LM" in listed[number]

    run = nursery(
        tmp_path,
        "rooms",
        "add",
        "--listen-s",
        "2",
        input=f"{number}\nnursery\n",
        NURSERY_MQTT__HOST="127.0.0.1",
        NURSERY_MQTT__PORT=str(broker.port),
    )
    assert run.returncode == 0, run.stderr
    toml = run.stdout[run.stdout.index("[[hub.sources]]") : run.stdout.index("Or, where")]
    [entry] = tomllib.loads(toml)["hub"]["sources"]
    assert entry == {
        "room": "nursery",
        "kind": "zigbee2mqtt",
        "device": "kids/th",
        "base_topic": z2m,
    }
    env = re.search(r"^NURSERY_HUB__SOURCES='(.+)'$", run.stdout, re.MULTILINE)
    assert env is not None and json.loads(env.group(1)) == [entry]
    [source] = Settings(hub={"sources": [entry]}).hub.sources
    assert source.prefix == z2m and source.room == "nursery"
