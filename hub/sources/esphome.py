"""ESPHome's MQTT client: `<prefix>/sensor/<object id>/state` and `<prefix>/status`."""

# As documented at https://esphome.io/components/mqtt.html: each sensor's state is a number
# as text on its own topic (retained by default, so temperature and humidity arrive as two
# messages), `nan` when the sensor gave no value; `<prefix>/status` carries the birth and
# last-will messages `online`/`offline`. topic_prefix defaults to the node name.

from __future__ import annotations

from hub.sources.settings import SourceSettings
from hub.sources.update import SourceError, Update, fahrenheit_to_c, plain_text, text_number


def subscriptions(source: SourceSettings) -> list[str]:
    return [f"{source.prefix}/sensor/+/state", f"{source.prefix}/status"]


def parse(source: SourceSettings, topic: str, payload: bytes) -> Update | None:
    if topic == f"{source.prefix}/status":
        text = plain_text(payload)
        if text not in ("online", "offline"):
            raise SourceError(f"status must be online or offline, got {payload[:40]!r}")
        return Update(online=text == "online")
    head, tail = f"{source.prefix}/sensor/", "/state"
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    name = topic[len(head) : -len(tail)]
    role = _role(source, name)
    if role is None:
        return None  # Wi-Fi signal, uptime…: not ours to judge
    value = text_number(payload, name)
    if value is None:
        return Update(failed=f"the {role} sensor gave no value") if role != "battery" else None
    if role == "temperature":
        celsius = fahrenheit_to_c(value) if source.temperature_unit == "F" else value
        return Update(temperature_c=celsius)
    if role == "humidity":
        return Update(humidity_pct=value)
    return Update(battery_pct=value)


def _role(source: SourceSettings, name: str) -> str | None:
    """Which of the device's sensors this is: the configured object ids, else by name."""
    if name == source.temperature_sensor:
        return "temperature"
    if name == source.humidity_sensor:
        return "humidity"
    if source.temperature_sensor is None and "temperature" in name:
        return "temperature"
    if source.humidity_sensor is None and "humidity" in name:
        return "humidity"
    if "battery" in name and "voltage" not in name:
        return "battery"
    return None
