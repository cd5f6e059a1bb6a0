"""How a room fed by another system's sensor is described: its source, how often it
reports, its accuracy (dashboard and pushes)."""

from __future__ import annotations

from typing import Final

from hub.messages.formatting import (
    DEFAULT_SENSOR,
    Unit,
    accuracy_c,
    accuracy_pct,
    delta_text,
    sensor_accuracy,
    span_text,
)
from hub.sources.settings import SourceKind, SourceSettings

SYSTEM_NAMES: Final[dict[SourceKind, str]] = {
    "zigbee2mqtt": "Zigbee2MQTT",
    "esphome": "ESPHome",
    "shelly": "Shelly",
    "tasmota": "Tasmota",
}
# How each kind reports when all is well (docs/sources.md).
REPORTS: Final[dict[SourceKind, str]] = {
    "zigbee2mqtt": "reports when the temperature changes, and at least about hourly",
    "esphome": "reports about every minute",
    "shelly": "wakes and reports about every 10 minutes, and on a change",
    "tasmota": "reports about every 5 minutes",
}


def source_name(source: SourceSettings) -> str:
    """`Zigbee2MQTT: nursery-sensor`."""
    return f"{SYSTEM_NAMES[source.kind]}: {source.device}"


def reporting(source: SourceSettings) -> str:
    """How often the room is heard, and when its silence counts as no readings."""
    return (
        f"This sensor {REPORTS[source.kind]}; no reading for {span_text(source.stale_s)} "
        "counts as no readings."
    )


def silence_hint(source: SourceSettings) -> str:
    """For a no-data or offline push: where this room's readings come from, and what to check."""
    return (
        f"{reporting(source)} The readings come from {source_name(source)}: check its battery "
        f"or power, and that {SYSTEM_NAMES[source.kind]} and the MQTT broker are running."
    )


def source_accuracy(source: SourceSettings, unit: Unit = "C") -> str:
    if source.accuracy_c is None:
        return "Accuracy as its maker states it."
    return f"Accuracy about ±{delta_text(source.accuracy_c, unit)}."


# The models a Pi room may report (firmware.sensor), as a parent sees them named.
PI_SENSOR_NAMES: Final[dict[str, str]] = {
    "dht22": "DHT22",
    "am2302": "AM2302",
    "dht11": "DHT11",
    "sht4x": "SHT4x",
    "sht3x": "SHT3x",
    "bme280": "BME280",
}


def pi_source_name(model: str | None) -> str:
    """`Raspberry Pi: DHT22` (an older Pi that does not say its model has the default)."""
    key = (model or DEFAULT_SENSOR).strip().lower()
    return f"Raspberry Pi: {PI_SENSOR_NAMES.get(key, key)}"


def pi_reporting(stale_s: float) -> str:
    """How often a Pi room is heard (its firmware reads every few seconds)."""
    return (
        f"The Pi reads the sensor every few seconds; no reading for {span_text(stale_s)} "
        "counts as no readings."
    )


def pi_accuracy(model: str | None, unit: Unit = "C") -> str:
    """The room's own sensor's accuracy, from its datasheet."""
    accuracy = sensor_accuracy(model)
    if accuracy is None:
        return "Accuracy as its maker states it."
    return (
        f"Accuracy about ±{delta_text(accuracy.temperature_c, unit)} "
        f"and ±{accuracy.humidity_pct:g} % humidity."
    )


def room_accuracy(
    source: SourceSettings | None, model: str | None
) -> tuple[float | None, float | None]:
    """The accuracy (°C, %RH) a room's words claim, on the phone and on the page alike: a
    source's configured temperature accuracy and no humidity claim (the Pi's sensor's figure
    would be a claim about another device), else the Pi sensor model's datasheet figures."""
    if source is not None:
        return source.accuracy_c, None
    return accuracy_c(model), accuracy_pct(model)
