"""Home Assistant discovery: every payload checked against Home Assistant's own discovery
rules (kept here as data, since Home Assistant drops a key it does not know without a word),
every template rendered against the payloads it will read, and the whole exchange against a
real Mosquitto: retained configs, re-announce on `online`, removal, and the ack button."""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.alert_state import AlertEntry, AlertStateMessage
from contract.messages import HealthMessage, ReadingMessage, decode_command, new_boot_id
from contract.topics import (
    alert_topic,
    command_topic,
    health_topic,
    hub_availability_topic,
    reading_topic,
    room_state_topic,
    status_topic,
)
from hub.comfort import ComfortBand, RoomStateMessage, derive_room_state, paced, readings_waiting
from hub.conditions import Condition
from hub.discovery import Discovery
from mqttlink.rules_settings import RulesSettings
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, hub_settings, wait_until
from tests.support.alerting import FAST_RULES, open_alert
from tests.support.homeassistant import render
from tests.support.paths import ROOT
from tests.support.rooms import TracePlayer

# --- Home Assistant's discovery rules, as data -------------------------------------------
# From home-assistant.io integrations/mqtt (discovery topic, device-based discovery payload,
# abbreviations, availability), sensor.mqtt, binary_sensor.mqtt and button.mqtt (their
# configuration variables), sensor / binary_sensor / button (device classes and units), and
# core's mqtt/schemas.py (DEVICE_DISCOVERY_SCHEMA, device and origin schemas).

ABBREVIATIONS = {  # root, component and availability scope
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "cmps": "components",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "lrst_val_tpl": "last_reset_value_template",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "ops": "options",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections",
    "cu": "configuration_url",
    "hw": "hw_version",
    "ids": "identifiers",
    "mdl": "model",
    "mdl_id": "model_id",
    "mf": "manufacturer",
    "sa": "suggested_area",
    "sn": "serial_number",
    "sw": "sw_version",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url"}

DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
AVAILABILITY_MODES = {"all", "any", "latest"}
AVAILABILITY_OPTIONS = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
}
# The root of a device message: device, origin, components and the shared options only.
DEVICE_MESSAGE_KEYS = {
    "device",
    "origin",
    "components",
    "command_topic",
    "state_topic",
    "qos",
    "encoding",
} | AVAILABILITY_OPTIONS
COMMON_KEYS = {
    "default_entity_id",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "origin",
    "qos",
    "unique_id",
} | AVAILABILITY_OPTIONS
DEPRECATED_KEYS = {"object_id"}
PLATFORM_KEYS: dict[str, set[str]] = {
    "sensor": COMMON_KEYS
    | {
        "device_class",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "state_class",
        "state_topic",
        "suggested_display_precision",
        "unit_of_measurement",
        "value_template",
    },
    "binary_sensor": COMMON_KEYS
    | {
        "device_class",
        "expire_after",
        "force_update",
        "off_delay",
        "payload_off",
        "payload_on",
        "state_topic",
        "value_template",
    },
    "button": COMMON_KEYS
    | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
}
REQUIRED_KEYS = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "button": {"command_topic"},
}
# The device classes this project uses, with the units Home Assistant allows for each
# (None: no unit). Any other class fails until its documented rules are added here.
SENSOR_DEVICE_CLASSES: dict[str, set[str | None]] = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "timestamp": {None},
    "enum": {None},
}
BINARY_SENSOR_DEVICE_CLASSES = {"cold", "problem", "connectivity"}
BUTTON_DEVICE_CLASSES = {"identify", "restart", "update"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
# Matched after the prefix, as core's discovery.py does.
DISCOVERY_TOPIC = re.compile(
    r"^(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$"
)
ICON = re.compile(r"^[a-z0-9-]+:[a-z0-9-]+$")
ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def _expand(
    data: dict[str, Any], table: dict[str, str], where: str, errors: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = table.get(key, key)
        if full in out:
            errors.append(f"{where}: {key!r} and {full!r} both given")
        out[full] = value
    return out


def _topic_ok(value: object, where: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not value or "+" in value or "#" in value:
        errors.append(f"{where}: {value!r} is not a plain topic")


def _check_device(raw: object, where: str, errors: list[str]) -> None:
    if not isinstance(raw, dict):
        errors.append(f"{where}: device must be an object")
        return
    device = _expand(raw, DEVICE_ABBREVIATIONS, where, errors)
    for key in device.keys() - DEVICE_KEYS:
        errors.append(f"{where}: unknown device key {key!r}")
    ids = device.get("identifiers")
    if isinstance(ids, str):
        ids = [ids]
    if not ids and not device.get("connections"):
        errors.append(f"{where}: a device needs identifiers or connections")
    if ids and not all(isinstance(i, str) and i for i in ids):
        errors.append(f"{where}: identifiers must be strings")
    for key in device.keys() - {"identifiers", "connections"}:
        if not isinstance(device[key], str):
            errors.append(f"{where}: device {key} must be a string")
    url = device.get("configuration_url")
    if url is not None and not re.match(r"^(https?://[^/]+|homeassistant://)", str(url)):
        errors.append(f"{where}: configuration_url {url!r} is not http(s) or homeassistant://")


def _check_origin(raw: object, where: str, errors: list[str]) -> None:
    if not isinstance(raw, dict):
        errors.append(f"{where}: origin must be an object")
        return
    origin = _expand(raw, ORIGIN_ABBREVIATIONS, where, errors)
    for key in origin.keys() - ORIGIN_KEYS:
        errors.append(f"{where}: unknown origin key {key!r}")
    if not isinstance(origin.get("name"), str):
        errors.append(f"{where}: origin needs a name")
    url = origin.get("support_url")
    if url is not None and not re.match(r"^https?://[^/]+", str(url)):
        errors.append(f"{where}: support_url {url!r} is not http(s)")


def _check_availability(config: dict[str, Any], where: str, errors: list[str]) -> None:
    if "availability" in config and "availability_topic" in config:
        errors.append(f"{where}: availability and availability_topic are exclusive")
    items = config.get("availability", [])
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, dict):
            errors.append(f"{where}: availability entries must be objects")
            continue
        entry = _expand(item, ABBREVIATIONS, where, errors)
        for key in entry.keys() - AVAILABILITY_KEYS:
            errors.append(f"{where}: unknown availability key {key!r}")
        _topic_ok(entry.get("topic"), f"{where} availability topic", errors)
    mode = config.get("availability_mode")
    if mode is not None and mode not in AVAILABILITY_MODES:
        errors.append(f"{where}: availability_mode {mode!r} is not all, any or latest")


def _check_component(
    platform: str, raw: dict[str, Any], where: str, errors: list[str], in_device: bool
) -> dict[str, Any]:
    config = _expand(raw, ABBREVIATIONS, where, errors)
    known = PLATFORM_KEYS[platform] | ({"platform"} if in_device else set())
    for key in config.keys() & DEPRECATED_KEYS:
        errors.append(f"{where}: {key!r} is deprecated")
    for key in config.keys() - known - DEPRECATED_KEYS:
        errors.append(f"{where}: unknown key {key!r} for a {platform}")
    for key in REQUIRED_KEYS[platform] - config.keys():
        errors.append(f"{where}: {key} is required for a {platform}")
    if not isinstance(config.get("unique_id"), str) or not config["unique_id"]:
        errors.append(f"{where}: unique_id is required (and keeps the entity across restarts)")
    for key in ("state_topic", "command_topic", "json_attributes_topic"):
        if key in config:
            _topic_ok(config[key], f"{where} {key}", errors)
    _check_availability(config, where, errors)
    if "device" in config:
        _check_device(config["device"], where, errors)
    if "origin" in config:
        _check_origin(config["origin"], where, errors)
    category = config.get("entity_category")
    if category is not None and category not in ENTITY_CATEGORIES:
        errors.append(f"{where}: entity_category {category!r}")
    if platform in ("sensor", "binary_sensor") and category not in (None, "diagnostic"):
        errors.append(f"{where}: a {platform}'s entity_category can only be diagnostic")
    if "icon" in config and not ICON.match(str(config["icon"])):
        errors.append(f"{where}: icon {config['icon']!r} is not prefix:name")
    if "qos" in config and config["qos"] not in (0, 1, 2):
        errors.append(f"{where}: qos must be 0, 1 or 2")
    for key in ("retain", "force_update", "enabled_by_default"):
        if key in config and not isinstance(config[key], bool):
            errors.append(f"{where}: {key} must be a boolean")
    expire = config.get("expire_after")
    if expire is not None and (isinstance(expire, bool) or not isinstance(expire, int)):
        errors.append(f"{where}: expire_after must be whole seconds")
    elif expire is not None and expire <= 0:
        errors.append(f"{where}: expire_after must be positive (0 never expires)")
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    if platform == "sensor":
        if device_class is not None and device_class not in SENSOR_DEVICE_CLASSES:
            errors.append(f"{where}: sensor device_class {device_class!r} is not checked here")
        elif device_class is not None and unit not in SENSOR_DEVICE_CLASSES[device_class]:
            errors.append(f"{where}: unit {unit!r} is not allowed for {device_class}")
        state_class = config.get("state_class")
        if state_class is not None and state_class not in STATE_CLASSES:
            errors.append(f"{where}: state_class {state_class!r}")
        if device_class in ("enum", "timestamp") and state_class is not None:
            errors.append(f"{where}: a {device_class} sensor has no state_class")
        options = config.get("options")
        if (options is not None) != (device_class == "enum"):
            errors.append(f"{where}: options go with device_class enum, and only with it")
        if options is not None and (
            not isinstance(options, list)
            or not options
            or not all(isinstance(o, str) for o in options)
        ):
            errors.append(f"{where}: options must be a non-empty list of strings")
    elif platform == "binary_sensor":
        if device_class is not None and device_class not in BINARY_SENSOR_DEVICE_CLASSES:
            errors.append(f"{where}: binary_sensor device_class {device_class!r}")
    elif device_class is not None and device_class not in BUTTON_DEVICE_CLASSES:
        errors.append(f"{where}: button device_class {device_class!r}")
    return config


def ha_problems(messages: dict[str, Any], prefix: str) -> list[str]:
    """Everything Home Assistant would refuse or silently drop in these discovery messages
    (topic → decoded JSON). Empty when all is well."""
    errors: list[str] = []
    unique_ids: list[str] = []
    for topic, payload in messages.items():
        trimmed = topic.removeprefix(f"{prefix}/")
        match = None if trimmed == topic else DISCOVERY_TOPIC.match(trimmed)
        if match is None:
            errors.append(f"{topic}: not <{prefix}>/<component>/[<node_id>/]<object_id>/config")
            continue
        component = match["component"]
        if not isinstance(payload, dict):
            errors.append(f"{topic}: payload must be a JSON object")
            continue
        if component == "device":
            root = _expand(payload, ABBREVIATIONS, topic, errors)
            for key in root.keys() - DEVICE_MESSAGE_KEYS:
                errors.append(f"{topic}: {key!r} is not allowed at the root of a device message")
            for key in ("device", "origin", "components"):
                if key not in root:
                    errors.append(f"{topic}: {key} is required in a device message")
            _check_device(root.get("device"), topic, errors)
            _check_origin(root.get("origin"), topic, errors)
            _check_availability(root, topic, errors)
            components = root.get("components")
            if not isinstance(components, dict) or not components:
                errors.append(f"{topic}: components must be a non-empty object")
                continue
            for key, raw in components.items():
                where = f"{topic} component {key}"
                if not ID.match(key):
                    errors.append(f"{where}: component ids are [a-zA-Z0-9_-]")
                if not isinstance(raw, dict):
                    errors.append(f"{where}: must be an object")
                    continue
                platform = raw.get("p", raw.get("platform"))
                if platform not in PLATFORM_KEYS:
                    errors.append(f"{where}: platform (p) {platform!r} is missing or unknown")
                    continue
                config = _check_component(platform, raw, where, errors, in_device=True)
                unique_ids.append(str(config.get("unique_id")))
        elif component in PLATFORM_KEYS:
            if "p" in payload or "platform" in payload:
                errors.append(f"{topic}: platform is for device messages only")
            config = _check_component(component, payload, topic, errors, in_device=False)
            unique_ids.append(str(config.get("unique_id")))
            for key in ("device", "origin"):
                if key not in config:
                    errors.append(f"{topic}: we always send {key}")
        else:
            errors.append(f"{topic}: component {component!r} is not one we use")
    duplicates = sorted({u for u in unique_ids if unique_ids.count(u) > 1})
    if duplicates:
        errors.append(f"unique_id used twice: {duplicates}")
    return errors


# --- fixtures -------------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def make_settings(**homeassistant: object) -> Settings:
    return Settings(
        mqtt={"base_topic": "nursery"},
        homeassistant=homeassistant,
        notify={"public_url": "http://nursery.local:8000"},
    )


class Recorder:
    """A publish callable that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.sent.append((topic, payload, retain))

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.sent]


def everything(discovery: Discovery, rooms: list[str]) -> dict[str, Any]:
    messages = discovery.hub_configs()
    for room in rooms:
        messages.update(discovery.configs(room))
    return messages


def components(discovery: Discovery, room: str) -> dict[str, dict[str, Any]]:
    """key → component config, whatever the layout."""
    out: dict[str, dict[str, Any]] = {}
    for topic, payload in discovery.configs(room).items():
        if "cmps" in payload:
            out.update(payload["cmps"])
        else:
            key = topic.split("/")[-2]
            out[key] = {"p": topic.split("/")[-4], **payload}
    return out


# --- the payloads follow Home Assistant's rules ----------------------------------------------


@pytest.mark.parametrize("per_entity", [False, True])
def test_every_payload_follows_home_assistants_rules(per_entity: bool) -> None:
    discovery = Discovery(make_settings(per_entity=per_entity), Recorder())
    messages = everything(discovery, ["nursery", "kids-room", "baby_2"])
    assert ha_problems(messages, "homeassistant") == []
    assert "object_id" not in json.dumps(messages)
    assert "obj_id" not in json.dumps(messages)


def test_device_based_messages_are_one_per_device_with_dev_o_cmps() -> None:
    discovery = Discovery(make_settings(), Recorder(), sw_version="1.2.3")
    messages = everything(discovery, ["nursery"])
    assert sorted(messages) == [
        "homeassistant/device/nursery_monitor_nursery/config",
        "homeassistant/device/nursery_monitor_nursery_nursery/config",
    ]
    room = messages["homeassistant/device/nursery_monitor_nursery_nursery/config"]
    assert set(room) == {"dev", "o", "cmps"}
    assert room["o"] == {
        "name": "nursery-monitor",
        "sw": "1.2.3",
        "url": "http://nursery.local:8000",
    }
    assert room["dev"] == {
        "ids": ["nursery_monitor_nursery_nursery"],
        "name": "Nursery",
        "mf": "nursery-monitor",
        "mdl": "Room temperature and humidity monitor",
        "sw": "1.2.3",
        "sa": "Nursery",
        "via_device": "nursery_monitor_nursery",
        "cu": "http://nursery.local:8000",
    }
    assert sorted(room["cmps"]) == sorted(
        [
            "temperature",
            "humidity",
            "comfort",
            "too_cold",
            "problem",
            "alert",
            "acknowledge",
            "snooze",
            "last_heard",
            "outbox",
        ]
    )
    hub = messages["homeassistant/device/nursery_monitor_nursery/config"]
    assert hub["dev"]["ids"] == [room["dev"]["via_device"]], "via_device names the hub device"


def test_per_entity_layout_is_one_retained_config_per_entity() -> None:
    discovery = Discovery(make_settings(per_entity=True, prefix="ha"), Recorder())
    messages = discovery.configs("nursery")
    assert len(messages) == 10
    assert "ha/sensor/nursery_monitor_nursery_nursery/temperature/config" in messages
    assert "ha/binary_sensor/nursery_monitor_nursery_nursery/too_cold/config" in messages
    assert "ha/button/nursery_monitor_nursery_nursery/acknowledge/config" in messages
    for payload in messages.values():
        assert payload["dev"]["ids"] == ["nursery_monitor_nursery_nursery"]
        assert payload["o"]["name"] == "nursery-monitor"
        assert "p" not in payload


def test_unique_ids_survive_a_restart_and_differ_between_rooms_and_bases() -> None:
    first = everything(Discovery(make_settings(), Recorder()), ["nursery", "kids"])
    again = everything(Discovery(make_settings(), Recorder()), ["nursery", "kids"])
    assert first == again
    ids = [c["unique_id"] for p in first.values() for c in p["cmps"].values()]
    assert len(ids) == len(set(ids)) == 22
    other_base = Settings(mqtt={"base_topic": "home/upstairs"})
    other = Discovery(other_base, Recorder())
    assert other.device_id("nursery") == "nursery_monitor_home_upstairs_nursery"
    other_ids = {c["unique_id"] for c in components(other, "nursery").values()}
    assert other_ids.isdisjoint(ids)


def test_readings_need_firmware_and_hub_derived_state_needs_only_the_hub() -> None:
    parts = components(Discovery(make_settings(), Recorder()), "nursery")
    both = [{"topic": status_topic("nursery", "nursery")}, {"topic": "nursery/hub/availability"}]
    hub_only = [{"topic": "nursery/hub/availability"}]
    for key in ("temperature", "humidity", "outbox"):
        assert parts[key]["availability"] == both
        assert parts[key]["availability_mode"] == "all"
    for key in ("comfort", "too_cold", "problem", "alert", "acknowledge", "snooze", "last_heard"):
        assert parts[key]["availability"] == hub_only, key
    assert hub_availability_topic("nursery") == "nursery/hub/availability"


def test_each_entity_reads_its_topic_as_documented() -> None:
    parts = components(Discovery(make_settings(), Recorder()), "nursery")
    assert parts["temperature"]["state_topic"] == reading_topic("nursery", "nursery")
    assert parts["temperature"]["expire_after"] == 300  # rules.stale_after_s
    assert parts["humidity"]["state_topic"] == reading_topic("nursery", "nursery")
    for key in ("comfort", "too_cold", "problem", "last_heard"):
        assert parts[key]["state_topic"] == room_state_topic("nursery", "nursery")
    assert parts["alert"]["state_topic"] == alert_topic("nursery", "nursery")
    assert parts["alert"]["json_attributes_topic"] == alert_topic("nursery", "nursery")
    assert parts["outbox"]["state_topic"] == room_state_topic("nursery", "nursery")
    assert parts["too_cold"]["device_class"] == "cold"
    assert parts["problem"]["device_class"] == "problem"
    assert parts["last_heard"]["entity_category"] == "diagnostic"
    assert parts["outbox"]["entity_category"] == "diagnostic"


def test_buttons_send_the_contracts_commands_unretained() -> None:
    parts = components(Discovery(make_settings(), Recorder()), "nursery")
    for key, command in (("acknowledge", ("ack", 0)), ("snooze", ("snooze", 30))):
        button = parts[key]
        assert button["command_topic"] == command_topic("nursery", "nursery")
        assert decode_command(button["payload_press"].encode()) == command
        assert button["retain"] is False, "a retained ack would answer every future alert"
        assert button["qos"] == 1


def test_expire_after_follows_the_hubs_no_data_time() -> None:
    settings = Settings(rules={"stale_after_s": 90.5})
    parts = components(Discovery(settings, Recorder()), "nursery")
    assert parts["temperature"]["expire_after"] == 91


def test_a_url_home_assistant_would_refuse_is_left_out() -> None:
    settings = Settings(notify={"public_url": "nursery.local:8000"})
    messages = everything(Discovery(settings, Recorder()), ["nursery"])
    assert "cu" not in json.dumps(messages)
    assert "url" not in messages["homeassistant/device/nursery_monitor_nursery/config"]["o"]
    assert ha_problems(messages, "homeassistant") == []


Mutation = Callable[[dict[str, Any]], None]


def _temperature(message: dict[str, Any]) -> dict[str, Any]:
    return message["cmps"]["temperature"]  # type: ignore[no-any-return]


def _rename(config: dict[str, Any], old: str, new: str) -> None:
    config[new] = config.pop(old)


MUTATIONS: list[tuple[str, Mutation, str]] = [
    (
        "typo exp_after",
        lambda m: _rename(_temperature(m), "expire_after", "exp_after"),
        "unknown key 'exp_after'",
    ),
    (
        "object_id",
        lambda m: _temperature(m).update(object_id="nursery_temp"),
        "'object_id' is deprecated",
    ),
    (
        "obj_id",
        lambda m: _temperature(m).update(obj_id="nursery_temp"),
        "'object_id' is deprecated",
    ),
    (
        "device class typo",
        lambda m: _temperature(m).update(device_class="temprature"),
        "'temprature' is not checked",
    ),
    (
        "unit",
        lambda m: _temperature(m).update(unit_of_measurement="C"),
        "unit 'C' is not allowed",
    ),
    ("no unique_id", lambda m: _temperature(m).pop("unique_id"), "unique_id is required"),
    ("no platform", lambda m: _temperature(m).pop("p"), "platform (p)"),
    ("no state topic", lambda m: _temperature(m).pop("state_topic"), "state_topic is required"),
    (
        "config category on a sensor",
        lambda m: _temperature(m).update(entity_category="config"),
        "can only be diagnostic",
    ),
    (
        "availability typo",
        lambda m: _temperature(m)["availability"].append({"topik": "x"}),
        "unknown availability key 'topik'",
    ),
    (
        "availability mode",
        lambda m: _temperature(m).update(availability_mode="both"),
        "availability_mode 'both'",
    ),
    (
        "state class on an enum",
        lambda m: m["cmps"]["comfort"].update(state_class="measurement"),
        "has no state_class",
    ),
    ("enum without options", lambda m: m["cmps"]["alert"].pop("options"), "options go with"),
    (
        "binary sensor class",
        lambda m: m["cmps"]["too_cold"].update(device_class="freezing"),
        "'freezing'",
    ),
    ("device key typo", lambda m: _rename(m["dev"], "mf", "mfr"), "unknown device key 'mfr'"),
    ("no identifiers", lambda m: m["dev"].pop("ids"), "identifiers or connections"),
    ("origin without name", lambda m: m["o"].pop("name"), "origin needs a name"),
    ("no origin", lambda m: m.pop("o"), "origin is required"),
    (
        "unknown root key",
        lambda m: m.update(unique_id="x"),
        "'unique_id' is not allowed at the root",
    ),
    (
        "expire_after as text",
        lambda m: _temperature(m).update(expire_after="300"),
        "whole seconds",
    ),
    (
        "same unique_id twice",
        lambda m: m["cmps"]["humidity"].update(unique_id=_temperature(m)["unique_id"]),
        "unique_id used twice",
    ),
    (
        "wildcard topic",
        lambda m: _temperature(m).update(state_topic="nursery/+/reading"),
        "not a plain topic",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in MUTATIONS], ids=[n for n, _, _ in MUTATIONS]
)
def test_the_rules_catch_what_home_assistant_would_drop(mutate: Mutation, expected: str) -> None:
    discovery = Discovery(make_settings(), Recorder())
    messages = json.loads(json.dumps(discovery.configs("nursery")))
    mutate(next(iter(messages.values())))
    problems = ha_problems(messages, "homeassistant")
    assert any(expected in problem for problem in problems), problems


def test_the_rules_catch_a_bad_topic_and_a_platform_key_per_entity() -> None:
    discovery = Discovery(make_settings(per_entity=True), Recorder())
    messages = json.loads(json.dumps(discovery.configs("nursery")))
    topic = "homeassistant/sensor/nursery_monitor_nursery_nursery/temperature/config"
    messages[topic]["p"] = "sensor"
    messages["homeassistant/sensor/nursery.temp/config"] = messages.pop(
        "homeassistant/sensor/nursery_monitor_nursery_nursery/humidity/config"
    )
    problems = ha_problems(messages, "homeassistant")
    assert any("platform is for device messages only" in p for p in problems), problems
    assert any("nursery.temp/config: not <" in p for p in problems), problems


# --- the templates, rendered against the payloads they read ----------------------------------


@dataclass(frozen=True)
class Scene:
    """What each topic of a room holds at one moment, and what each entity should show."""

    name: str
    payloads: dict[str, bytes]
    states: dict[str, str]


def scenes() -> list[Scene]:
    base, room = "nursery", "nursery"
    band = ComfortBand.from_rules(RulesSettings())
    reading = ReadingMessage(room, new_boot_id(), 7, NOW, 19.4, 48.2).encode()
    health = HealthMessage(room, new_boot_id(), NOW, 3, 0, None, 100, 1, {}).encode()
    fine = derive_room_state(
        room,
        band,
        temperature_c=18.04,
        conditions=[],
        last_heard=NOW,
        outbox_pending=1,
        readings_waiting=0,
    ).encode()
    catching_up = derive_room_state(
        room, band, temperature_c=18.0, conditions=[], outbox_pending=40, readings_waiting=37
    ).encode()
    cold = derive_room_state(
        room, band, temperature_c=15.4, conditions=[Condition.COLD], last_heard=NOW
    ).encode()
    silent = derive_room_state(
        room, band, temperature_c=15.4, conditions=[Condition.COLD, Condition.NO_DATA]
    ).encode()
    entry = AlertEntry(7, "cold", "alert", "open", NOW)
    alerting = AlertStateMessage(room, "alert", NOW, "cold", None, (entry,), 15.4).encode()
    quiet = AlertStateMessage(room, "ok", None, None, None, (), 18.0).encode()
    topics = {
        "reading": reading_topic(base, room),
        "state": room_state_topic(base, room),
        "alert": alert_topic(base, room),
        "health": health_topic(base, room),
    }

    def scene(name: str, state_payload: bytes, alert_payload: bytes, **expected: str) -> Scene:
        payloads = {
            topics["reading"]: reading,
            topics["state"]: state_payload,
            topics["alert"]: alert_payload,
            topics["health"]: health,
        }
        return Scene(name, payloads, expected)

    return [
        scene(
            "comfortable",
            fine,
            quiet,
            temperature="19.4",
            humidity="48.2",
            comfort="comfortable",
            too_cold="OFF",
            problem="OFF",
            alert="ok",
            last_heard="2026-11-23T18:00:00Z",
            outbox="0",
        ),
        scene("catching up", catching_up, quiet, comfort="comfortable", outbox="37"),
        scene("cold", cold, alerting, comfort="cold", too_cold="ON", problem="OFF", alert="alert"),
        scene(
            "silent",
            silent,
            alerting,
            comfort="None",
            too_cold="ON",
            problem="ON",
            last_heard="None",
            outbox="None",  # no health message yet: unknown, never a made-up 0
        ),
    ]


@pytest.mark.parametrize("scene", scenes(), ids=lambda s: s.name)
def test_every_template_renders_what_home_assistant_expects(scene: Scene) -> None:
    parts = components(Discovery(make_settings(), Recorder()), "nursery")
    for key, config in parts.items():
        for option, topic_option in (
            ("value_template", "state_topic"),
            ("json_attributes_template", "json_attributes_topic"),
        ):
            if option not in config:
                continue
            shown = render(config[option], scene.payloads[config[topic_option]])
            if option == "json_attributes_template":
                assert isinstance(json.loads(shown), dict), (key, shown)
                continue
            if key in scene.states:
                assert shown == scene.states[key], (key, shown)
            if config.get("device_class") == "enum":
                assert shown in [*config["options"], "None"], (key, shown)
            if config["p"] == "binary_sensor":
                on_off = (config.get("payload_on", "ON"), config.get("payload_off", "OFF"))
                assert shown in (*on_off, "None"), (key, shown)
            if config.get("state_class") == "measurement" and shown != "None":
                assert math.isfinite(float(shown)), (key, shown)
            if config.get("device_class") == "timestamp" and shown != "None":
                assert datetime.fromisoformat(shown).tzinfo is not None, (key, shown)


def test_attributes_carry_the_top_alert_and_every_open_alert_nothing_more() -> None:
    parts = components(Discovery(make_settings(), Recorder()), "nursery")
    later = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
    offline = AlertEntry(8, "offline", "alert", "open", later)
    cold = AlertEntry(7, "cold", "alert", "snoozed", NOW, "Sam", snoozed_until=later)
    payload = AlertStateMessage(
        "nursery", "alert", later, "offline", None, (offline, cold)
    ).encode()
    attributes = json.loads(render(parts["alert"]["json_attributes_template"], payload))
    assert attributes == {
        "since": "2026-11-23T18:30:00Z",
        "condition": "offline",
        "acknowledged_by": None,
        "unanswered": 1,
        "open_alerts": [
            {
                "id": 8,
                "condition": "offline",
                "severity": "alert",
                "state": "open",
                "since": "2026-11-23T18:30:00Z",
                "acknowledged_by": None,
                "snoozed_until": None,
            },
            {
                "id": 7,
                "condition": "cold",
                "severity": "alert",
                "state": "snoozed",
                "since": "2026-11-23T18:00:00Z",
                "acknowledged_by": "Sam",
                "snoozed_until": "2026-11-23T18:30:00Z",
            },
        ],
    }
    band = ComfortBand.from_rules(RulesSettings())
    state = derive_room_state(
        "nursery", band, temperature_c=None, conditions=[Condition.OFFLINE]
    ).encode()
    assert json.loads(render(parts["problem"]["json_attributes_template"], state)) == {
        "reason": "offline"
    }


# --- settings and Home Assistant's status (no broker) -----------------------------------------


def test_announce_publishes_retained_and_remembers_rooms_for_online() -> None:
    sent = Recorder()
    discovery = Discovery(make_settings(), sent)
    assert discovery.subscriptions() == ["homeassistant/status"]
    discovery.announce(["nursery"])
    discovery.ensure("kids")
    discovery.ensure("kids")  # known: nothing more
    first = list(sent.sent)
    assert all(retain for _, _, retain in first)
    assert len(first) == 4  # hub + nursery, then hub + kids
    sent.sent.clear()
    discovery.on_homeassistant_status(b"offline")
    assert sent.sent == []
    assert discovery.handles("homeassistant/status")
    discovery.on_homeassistant_status(b"online")
    assert sorted(sent.topics()) == sorted(everything(discovery, ["kids", "nursery"]))


def test_discovery_off_publishes_and_subscribes_nothing() -> None:
    sent = Recorder()
    discovery = Discovery(make_settings(discovery=False), sent)
    discovery.announce(["nursery"])
    discovery.ensure("kids")
    discovery.on_homeassistant_status(b"online")
    assert sent.sent == []
    assert discovery.subscriptions() == []
    assert not discovery.handles("homeassistant/status")


@pytest.mark.parametrize("per_entity", [False, True])
def test_remove_empties_every_topic_of_both_layouts(per_entity: bool) -> None:
    sent = Recorder()
    discovery = Discovery(make_settings(remove=True, per_entity=per_entity), sent)
    assert discovery.subscriptions() == []
    discovery.announce(["nursery"])  # the remove setting: announce nothing, remove instead
    removed = len(sent.sent)
    discovery.ensure("nursery")
    assert len(sent.sent) == removed, "a room is removed once, not on every message"
    assert all(payload == b"" and retain for _, payload, retain in sent.sent)
    device_layout = everything(Discovery(make_settings(), Recorder()), ["nursery"])
    entity_layout = everything(Discovery(make_settings(per_entity=True), Recorder()), ["nursery"])
    assert set(sent.topics()) == set(device_layout) | set(entity_layout)


def test_room_state_payload_from_the_discovery_object() -> None:
    discovery = Discovery(make_settings(), Recorder())
    payload = discovery.room_state(
        "nursery",
        temperature_c=15.9,
        conditions=[Condition.COLD],
        last_heard=NOW,
        outbox_pending=1,
        readings_waiting=0,
    )
    assert json.loads(payload) == {
        "v": 1,
        "room": "nursery",
        "comfort": "cold",
        "too_cold": True,
        "problem": False,
        "problem_reason": None,
        "last_heard": "2026-11-23T18:00:00Z",
        "outbox_pending": 1,
        "temperature_c": 15.9,
        "readings_waiting": 0,
    }
    assert discovery.state_topic("nursery") == "nursery/nursery/state"


# --- against a real Mosquitto -----------------------------------------------------------------


def _client() -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)


class HubSide:
    """What the hub's MQTT client does once Discovery is wired in: publish what it builds at
    QoS 1, subscribe to what it asks for, and hand it Home Assistant's status."""

    def __init__(self, broker: Mosquitto, settings: Settings) -> None:
        self.discovery = Discovery(settings, self.publish)
        self._infos: list[mqtt.MQTTMessageInfo] = []
        self._subscribed = threading.Event()
        self.client = _client()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if self.discovery.subscriptions():
            assert self._subscribed.wait(10), "no SUBACK"

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        if topics := self.discovery.subscriptions():
            client.subscribe([(topic, 1) for topic in topics])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.discovery.handles(msg.topic):
            self.discovery.on_homeassistant_status(bytes(msg.payload))

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        self._infos.append(self.client.publish(topic, payload, qos=1, retain=retain))

    def flush(self) -> None:
        for info in list(self._infos):
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Observer:
    """Stands in for Home Assistant's discovery subscription: everything under the prefix."""

    def __init__(self, broker: Mosquitto, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client = _client()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/#", qos=1)
        assert self._subscribed.wait(10), "no SUBACK"
        self.sync()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def sync(self) -> None:
        """Wait until everything published before now has arrived: a marker comes after it."""
        marker = f"{self.prefix}/sync/{uuid.uuid4().hex}"
        self.client.publish(marker, b"", qos=1).wait_for_publish(10)
        wait_until(lambda: marker in self.topics(), timeout=10, what="the sync marker")

    def topics(self) -> list[str]:
        with self._lock:
            return [topic for topic, _ in self.messages]

    def configs(self) -> dict[str, bytes]:
        """The latest payload of each discovery topic (empty: removed)."""
        with self._lock:
            return {t: p for t, p in self.messages if t.endswith("/config")}

    def count(self, topic: str) -> int:
        return self.topics().count(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_clients() -> Iterator[list[HubSide | Observer]]:
    started: list[HubSide | Observer] = []
    yield started
    for client in started:
        client.close()


def ha_settings(broker: Mosquitto, base: str, tmp_path: Path, **homeassistant: object) -> Settings:
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    return hub_settings(
        tmp_path,
        broker.port,
        base,
        homeassistant={"prefix": prefix, **homeassistant},
        rules=dict(FAST_RULES),
    )


def with_homeassistant(settings: Settings, **changes: object) -> Settings:
    """The same settings (same prefix and base topic) with other homeassistant.* values."""
    section = settings.homeassistant.model_copy(update=changes)
    return settings.model_copy(update={"homeassistant": section})


def decoded(configs: dict[str, bytes]) -> dict[str, Any]:
    return {topic: json.loads(payload) for topic, payload in configs.items() if payload}


@pytest.mark.parametrize("per_entity", [False, True])
def test_the_broker_holds_the_expected_retained_configs(
    broker: Mosquitto,
    base_topic: str,
    tmp_path: Path,
    per_entity: bool,
    mqtt_clients: list[HubSide | Observer],
) -> None:
    settings = ha_settings(broker, base_topic, tmp_path, per_entity=per_entity)
    hub = HubSide(broker, settings)
    mqtt_clients.append(hub)
    hub.discovery.announce(["nursery", "kids"])
    hub.flush()
    home_assistant = Observer(broker, settings.homeassistant.prefix)  # subscribes afterwards
    mqtt_clients.append(home_assistant)
    held = decoded(home_assistant.configs())
    assert held == everything(hub.discovery, ["nursery", "kids"])
    assert ha_problems(held, settings.homeassistant.prefix) == []


def test_home_assistant_online_gets_every_config_again(
    broker: Mosquitto, base_topic: str, tmp_path: Path, mqtt_clients: list[HubSide | Observer]
) -> None:
    settings = ha_settings(broker, base_topic, tmp_path)
    prefix = settings.homeassistant.prefix
    hub = HubSide(broker, settings)
    mqtt_clients.append(hub)
    hub.discovery.announce(["nursery"])
    hub.flush()
    home_assistant = Observer(broker, prefix)
    mqtt_clients.append(home_assistant)
    topics = sorted(everything(hub.discovery, ["nursery"]))
    assert [home_assistant.count(t) for t in topics] == [1, 1]
    first = home_assistant.configs()

    home_assistant.client.publish(f"{prefix}/status", b"offline", qos=1).wait_for_publish(10)
    home_assistant.client.publish(f"{prefix}/status", b"online", qos=1).wait_for_publish(10)
    wait_until(
        lambda: all(home_assistant.count(t) == 2 for t in topics),
        what="the configs published again after online",
    )
    hub.flush()
    home_assistant.sync()
    assert [home_assistant.count(t) for t in topics] == [2, 2], "offline re-announced too"
    assert home_assistant.configs() == first


def test_remove_leaves_nothing_retained(
    broker: Mosquitto, base_topic: str, tmp_path: Path, mqtt_clients: list[HubSide | Observer]
) -> None:
    settings = ha_settings(broker, base_topic, tmp_path)
    prefix = settings.homeassistant.prefix
    hub = HubSide(broker, settings)
    mqtt_clients.append(hub)
    hub.discovery.announce(["nursery"])
    hub.flush()
    watching = Observer(broker, prefix)
    mqtt_clients.append(watching)
    assert len(decoded(watching.configs())) == 2

    # The `remove` setting at the next start: empty retained messages, nothing announced.
    removing = HubSide(broker, with_homeassistant(settings, remove=True))
    mqtt_clients.append(removing)
    removing.discovery.announce(["nursery"])
    removing.flush()
    watching.sync()
    assert decoded(watching.configs()) == {}, "Home Assistant saw empty payloads: removed"
    later = Observer(broker, prefix)
    mqtt_clients.append(later)
    assert later.configs() == {}, "nothing retained under the prefix"


def test_pressing_the_discovered_buttons_snoozes_then_acknowledges_the_open_alert(
    broker: Mosquitto,
    base_topic: str,
    tmp_path: Path,
    start_hub: Callable[[Settings], RunningHub],
    mqtt_clients: list[HubSide | Observer],
) -> None:
    settings = ha_settings(broker, base_topic, tmp_path)
    hub_side = HubSide(broker, settings)
    mqtt_clients.append(hub_side)
    hub_side.discovery.announce(["nursery"])
    hub_side.flush()
    hub = start_hub(settings)
    room = TracePlayer(settings)
    try:
        room.level = 15.0
        wait_until(lambda: _has_open(hub, "cold"), what="an open cold alert")

        # Home Assistant's side: the buttons as discovered, pressed as it presses them.
        home_assistant = Observer(broker, settings.homeassistant.prefix)
        mqtt_clients.append(home_assistant)
        device = hub_side.discovery.device_id("nursery")
        held = decoded(home_assistant.configs())
        buttons = held[f"{settings.homeassistant.prefix}/device/{device}/config"]["cmps"]

        def press(key: str) -> None:
            button = buttons[key]
            assert button["p"] == "button"
            home_assistant.client.publish(
                button["command_topic"],
                button["payload_press"].encode(),
                qos=button["qos"],
                retain=button["retain"],
            ).wait_for_publish(10)

        press("snooze")
        wait_until(lambda: open_alert(hub, "cold")["state"] == "snoozed", what="snoozed")
        press("acknowledge")
        wait_until(lambda: open_alert(hub, "cold")["state"] == "acknowledged", what="acked")
        assert open_alert(hub, "cold")["acknowledged_via"] == "mqtt"
        assert hub.get("/healthz").json()["messages"]["rejected"] == 0
    finally:
        room.stop()


def _has_open(hub: RunningHub, condition: str) -> bool:
    alerts = hub.get("/api/alerts").json()
    return any(a["condition"] == condition and a["state"] != "resolved" for a in alerts)


# --- the comfort band and the room state -------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "temperature", "band"),
    [
        ("uk", 15.9, "cold"),
        ("uk", 16.0, "cool"),
        ("uk", 16.9, "cool"),
        ("uk", 17.0, "comfortable"),
        ("uk", 20.0, "comfortable"),
        ("uk", 20.1, "warm"),
        ("uk", 24.0, "warm"),
        ("uk", 24.1, "hot"),
        ("who", 17.9, "cold"),
        ("who", 18.5, "cool"),
        ("who", 22.0, "comfortable"),
        ("us", 20.2, "cool"),
        ("us", 21.0, "comfortable"),
    ],
)
def test_comfort_band_uses_the_rules_thresholds(preset: str, temperature: float, band: str) -> None:
    rules = RulesSettings(preset=preset)
    assert ComfortBand.from_rules(rules).classify(temperature) == band


def test_comfort_band_is_unknown_without_a_temperature() -> None:
    band = ComfortBand.from_rules(RulesSettings())
    assert band.classify(None) == "unknown"
    assert band.classify(math.nan) == "unknown"


def test_a_silent_room_is_never_comfortable() -> None:
    band = ComfortBand.from_rules(RulesSettings())
    for condition, reason in ((Condition.NO_DATA, "no_data"), (Condition.OFFLINE, "offline")):
        state = derive_room_state("nursery", band, temperature_c=18.0, conditions=[condition])
        assert (state.comfort, state.temperature_c) == ("unknown", None)
        assert state.problem and state.problem_reason == reason


def test_problem_reasons_most_serious_first() -> None:
    band = ComfortBand.from_rules(RulesSettings())

    def reason(*conditions: Condition, fault: bool = False) -> str | None:
        return derive_room_state(
            "nursery", band, temperature_c=18.0, conditions=conditions, sensor_fault=fault
        ).problem_reason

    assert reason() is None
    assert reason(Condition.CLOCK_SKEW, Condition.COOL) is None
    assert reason(Condition.SENSOR_SUSPECT) == "sensor_suspect"
    assert reason(Condition.SENSOR_SUSPECT, fault=True) == "sensor_fault"
    assert reason(Condition.NO_DATA, fault=True) == "no_data"
    assert reason(Condition.NO_DATA, Condition.OFFLINE) == "offline"


def test_too_cold_follows_the_cold_condition_not_the_band() -> None:
    band = ComfortBand.from_rules(RulesSettings())
    # Below 16 °C but not yet for cold_for_s: cold band, not (yet) too cold.
    early = derive_room_state("nursery", band, temperature_c=15.8, conditions=[])
    assert (early.comfort, early.too_cold) == ("cold", False)
    # Back at 16.2 °C but the cold alert has not cleared (it clears at 16.5 °C, held).
    held = derive_room_state("nursery", band, temperature_c=16.2, conditions=[Condition.COLD])
    assert (held.comfort, held.too_cold) == ("cool", True)


def test_last_heard_alone_goes_out_at_most_every_five_minutes() -> None:
    band = ComfortBand.from_rules(RulesSettings())

    def state(seconds: float, *conditions: Condition, temperature: float = 18.0) -> Any:
        heard = NOW + timedelta(seconds=seconds)
        return derive_room_state(
            "nursery", band, temperature_c=temperature, conditions=conditions, last_heard=heard
        )

    sent = state(0)
    assert paced(None, sent) == sent
    assert paced(sent, state(10)) == sent, "nothing new: the same message, not sent again"
    assert paced(sent, state(299)) == sent
    assert paced(sent, state(300)) == state(300)
    warmer = paced(sent, state(20, temperature=18.5))
    assert (warmer.temperature_c, warmer.last_heard) == (18.5, NOW), "the rest goes out at once"
    quiet = state(40, Condition.NO_DATA)
    assert paced(sent, quiet) == quiet, "a new problem carries the exact last reading"
    assert paced(sent, state(-5)) == state(-5)  # the hub's clock stepped back: say it as is


def test_readings_waiting_leaves_out_what_the_hub_already_has() -> None:
    assert readings_waiting(1, {"a": 9}, {"a": 9}) == 0  # the reading in flight
    assert readings_waiting(1, {"a": 9}, {"a": 8}) == 1
    assert readings_waiting(30, {"b": 0, "a": 10}, {"a": 10}) == 29
    assert readings_waiting(30, {"b": 0, "a": 10}, {"a": 10, "b": 9}) == 19
    assert readings_waiting(2, {"a": 9}, {"a": 20}) == 0, "never below 0"
    assert readings_waiting(0, {}, {"a": 5}) == 0


def test_room_state_round_trips_and_refuses_off_contract_payloads() -> None:
    band = ComfortBand.from_rules(RulesSettings())
    for state in (
        derive_room_state(
            "nursery",
            band,
            temperature_c=18.2,
            conditions=[],
            last_heard=NOW,
            outbox_pending=4,
            readings_waiting=3,
        ),
        derive_room_state("kids", band, temperature_c=None, conditions=[Condition.OFFLINE]),
    ):
        assert RoomStateMessage.decode(state.encode()) == state
    from contract.topics import ContractError

    good = json.loads(
        derive_room_state("nursery", band, temperature_c=18.0, conditions=[]).encode()
    )
    for change in (
        {"v": 2},
        {"comfort": "chilly"},
        {"problem": True},
        {"problem_reason": "gremlins", "problem": True},
        {"too_cold": "no"},
        {"outbox_pending": True},
        {"readings_waiting": 1.5},
        {"last_heard": "yesterday"},
    ):
        with pytest.raises(ContractError):
            RoomStateMessage.decode(json.dumps({**good, **change}).encode())
    with pytest.raises(ContractError):
        RoomStateMessage.decode(b"\xff")


# --- the docs stay in step ---------------------------------------------------------------------

DOCS = ROOT / "docs"


def test_the_guide_lists_every_entity_by_its_entity_id() -> None:
    """Home Assistant makes entity ids from the device and entity names; the guide's table and
    its automations use them, so a renamed entity must show up here."""
    guide = (DOCS / "home-assistant.md").read_text(encoding="utf-8")
    discovery = Discovery(make_settings(), Recorder())
    named = [("Nursery", c) for c in components(discovery, "nursery").values()]
    hub = next(iter(discovery.hub_configs().values()))
    named += [(hub["dev"]["name"], c) for c in hub["cmps"].values()]
    for device_name, config in named:
        slug = re.sub(r"[^a-z0-9]+", "_", f"{device_name} {config['name']}".lower()).strip("_")
        assert f"`{config['p']}.{slug}`" in guide, f"{config['p']}.{slug} is not in the guide"


def test_mqtt_docs_describe_every_room_state_field() -> None:
    text = (DOCS / "mqtt.md").read_text(encoding="utf-8")
    band = ComfortBand.from_rules(RulesSettings())
    payload = json.loads(
        derive_room_state("nursery", band, temperature_c=18.0, conditions=[]).encode()
    )
    for field in payload:
        assert f"| `{field}` |" in text, f"room state field {field} is not in docs/mqtt.md"
    assert f"`{room_state_topic('<base>', '<room>')}`" in text
    assert f"`{hub_availability_topic('<base>')}`" in text


def test_a_running_hub_announces_each_room_it_hears_of_and_again_when_ha_comes_online(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: Callable[[Settings], RunningHub]
) -> None:
    """The wiring, from outside: a real hub, one reading, and Home Assistant's topics."""
    prefix = f"ha{base_topic}"
    settings = hub_settings(tmp_path, broker.port, base_topic, homeassistant={"prefix": prefix})
    retained: dict[str, bytes] = {}
    seen: list[str] = []
    lock = threading.Lock()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        with lock:
            retained[m.topic] = bytes(m.payload)
            seen.append(m.topic)

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe([(f"{prefix}/#", 1), (f"{base_topic}/#", 1)])
    client.loop_start()
    try:
        start_hub(settings)
        message = ReadingMessage("nursery", str(uuid.uuid4()), 0, datetime.now(UTC), 19.5, 50.0)
        client.publish(f"{base_topic}/nursery/reading", message.encode(), qos=1)
        device_id = Discovery(settings, lambda *args: None).device_id("nursery")
        device = f"{prefix}/device/{device_id}/config"
        wait_until(lambda: device in retained, what="the room's device config")
        assert {"dev", "o", "cmps"} <= json.loads(retained[device]).keys()
        assert retained.get(hub_availability_topic(base_topic)) == b"online"
        state = f"{base_topic}/nursery/state"
        wait_until(lambda: state in retained, what="the room state topic")
        assert json.loads(retained[state])["comfort"] == "comfortable"
        health = HealthMessage("nursery", message.boot_id, datetime.now(UTC), 7, 0, None, 1, 0, {})
        client.publish(f"{base_topic}/nursery/health", health.encode(), qos=1, retain=True)
        wait_until(
            lambda: json.loads(retained[state]).get("outbox_pending") == 7,
            what="the firmware's outbox size in the room state",
        )
        before = seen.count(device)
        client.publish(f"{prefix}/status", b"online", qos=1)
        wait_until(lambda: seen.count(device) > before, what="re-announced on HA online")
    finally:
        client.disconnect()
        client.loop_stop()
