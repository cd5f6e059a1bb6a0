"""Which of these systems' temperature sensors a message on the broker reveals, for
`nursery rooms add`: pure, a topic and payload in, a device or None out."""

from __future__ import annotations

import json
from typing import Any, Final, NamedTuple

from hub.sources.settings import SourceKind

# Retained where the system keeps them, so a few seconds of listening find most devices:
# Zigbee2MQTT's device list, ESPHome's retained states, a Shelly's `online`, Tasmota's
# native discovery; and the live telemetry of the rest.
TOPICS: Final = (
    "+/bridge/devices",
    "+/sensor/+/state",
    "+/online",
    "+/events/rpc",
    "tasmota/discovery/+/config",
    "tasmota/discovery/+/sensors",
    "tele/+/SENSOR",
)
DEFAULT_Z2M_BASE: Final = "zigbee2mqtt"


class Found(NamedTuple):
    kind: SourceKind
    device: str
    base_topic: str | None  # None: the system's default
    detail: str  # what identifies it for a parent: a model, a reading


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def found(topic: str, payload: bytes, tasmota_seen: dict[str, str]) -> list[Found]:
    """The sensors the message names; `tasmota_seen` keeps what Tasmota's discovery said
    of each device so far (its topic and its sensor come in two messages)."""
    levels = topic.split("/")
    if len(levels) == 3 and levels[1:] == ["bridge", "devices"]:
        return _zigbee2mqtt(levels[0], _json(payload))
    if len(levels) == 4 and levels[1] == "sensor" and levels[3] == "state":
        if "temperature" in levels[2]:
            value = payload.decode("ascii", errors="replace").strip()[:12]
            return [Found("esphome", levels[0], None, f"{levels[2]} {value}")]
        return []
    if len(levels) == 2 and levels[1] == "online" and levels[0].startswith("shellyht"):
        return [Found("shelly", levels[0], None, "Shelly H&T")]
    if len(levels) == 3 and levels[1:] == ["events", "rpc"]:
        data = _json(payload)
        params = data.get("params") if isinstance(data, dict) else None
        if isinstance(params, dict) and "temperature:0" in params:
            return [Found("shelly", levels[0], None, "Shelly with a temperature sensor")]
        return []
    if levels[:2] == ["tasmota", "discovery"] and len(levels) == 4:
        return _tasmota_discovery(levels[2], levels[3], _json(payload), tasmota_seen)
    if len(levels) == 3 and levels[0] == "tele" and levels[2] == "SENSOR":
        name = _tasmota_sensor(_json(payload))
        return [Found("tasmota", levels[1], None, name)] if name else []
    return []


def _zigbee2mqtt(base: str, devices: Any) -> list[Found]:
    if not isinstance(devices, list):
        return []
    out = []
    for device in devices:
        if not isinstance(device, dict) or not isinstance(device.get("friendly_name"), str):
            continue
        definition = device.get("definition")
        if not isinstance(definition, dict) or '"temperature"' not in json.dumps(definition):
            continue
        model = " ".join(str(definition.get(k, "")) for k in ("vendor", "model")).strip()
        base_topic = None if base == DEFAULT_Z2M_BASE else base
        out.append(Found("zigbee2mqtt", device["friendly_name"], base_topic, model))
    return out


def _tasmota_sensor(data: Any) -> str | None:
    """The name of the first sensor in a SENSOR payload with a temperature."""
    if not isinstance(data, dict):
        return None
    return next((k for k, v in data.items() if isinstance(v, dict) and "Temperature" in v), None)


def _tasmota_discovery(mac: str, kind: str, data: Any, seen: dict[str, str]) -> list[Found]:
    """Tasmota's config (its topic) and sensors messages, in either order."""
    if not isinstance(data, dict):
        return []
    if kind == "config" and isinstance(data.get("t"), str):
        seen[mac] = data["t"]
    elif kind == "sensors":
        name = _tasmota_sensor(data.get("sn"))
        if name:
            seen[f"{mac}/sensor"] = name
    topic, name = seen.get(mac), seen.get(f"{mac}/sensor")
    return [Found("tasmota", topic, None, name)] if topic and name else []
