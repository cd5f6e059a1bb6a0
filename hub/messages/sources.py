"""How a room fed by another system's sensor is described: its source, how often it
reports, its accuracy (dashboard and pushes)."""

from __future__ import annotations

from typing import Final

from hub.messages.formatting import Unit, delta_text, span_text
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
