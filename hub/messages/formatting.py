"""Temperatures, spans, room names and sensor accuracy as a parent reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Unit = Literal["C", "F"]


@dataclass(frozen=True, slots=True)
class Accuracy:
    """What a sensor model's datasheet promises: temperature in °C, humidity in %RH."""

    temperature_c: float
    humidity_pct: float


# By the model the firmware names in its health message (firmware.sensor). Datasheets
# (hardware/README.md cites them): DHT22/AM2302 ±0.5 °C and ±2–5 %RH; DHT11 ±2 °C and
# ±5 %RH; SHT4x ±0.2 °C and ±1.8 %RH (SHT40/SHT41; an SHT45 does better); SHT3x ±0.3 °C
# and ±3 %RH (the SHT30, the family's least accurate: the firmware cannot tell them apart);
# BME280 ±1 °C and ±3 %RH. A simulated sensor, or a model not listed, gets no accuracy
# sentence rather than a borrowed one; firmware too old to name its model is taken as
# firmware.sensor's default, the DHT22.
SENSOR_ACCURACY: dict[str, Accuracy] = {
    "dht22": Accuracy(0.5, 5.0),
    "am2302": Accuracy(0.5, 5.0),
    "dht11": Accuracy(2.0, 5.0),
    "sht4x": Accuracy(0.2, 1.8),
    "sht3x": Accuracy(0.3, 3.0),
    "bme280": Accuracy(1.0, 3.0),
}
DEFAULT_SENSOR = "dht22"
SENSOR_ACCURACY_C = SENSOR_ACCURACY[DEFAULT_SENSOR].temperature_c
HUMIDITY_ACCURACY_PCT = SENSOR_ACCURACY[DEFAULT_SENSOR].humidity_pct


def sensor_accuracy(model: str | None) -> Accuracy | None:
    """The accuracy of the sensor model a room reports (None: not said, the default
    model), or None for a model without a datasheet here."""
    return SENSOR_ACCURACY.get((model or DEFAULT_SENSOR).strip().lower())


def accuracy_c(model: str | None) -> float | None:
    """The temperature accuracy (°C) of a sensor model, for the messages' `accuracy_c`."""
    accuracy = sensor_accuracy(model)
    return accuracy.temperature_c if accuracy else None


def accuracy_pct(model: str | None) -> float | None:
    """The humidity accuracy (%RH) of a sensor model, for the messages' `accuracy_pct`."""
    accuracy = sensor_accuracy(model)
    return accuracy.humidity_pct if accuracy else None


# --- formatting ----------------------------------------------------------------------


def temperature(celsius: float | None, unit: Unit = "C") -> str:
    """A temperature for a page or the report, `15.2 °C` or `59.4 °F`; `–` when unknown."""
    return "–" if celsius is None else temp_text(celsius, unit)


def temperature_range(low_c: float, high_c: float, unit: Unit = "C") -> str:
    """`15.2–17.0 °C`, one unit sign for both ends."""
    low, high = (temp_text(value, unit).split(" ")[0] for value in (low_c, high_c))
    return f"{low}–{high} °{unit}"


def temperature_rate(c_per_h: float, unit: Unit = "C") -> str:
    """A trend, `+0.6 °C/h` or `+1.1 °F/h` (a rate has no 32 offset)."""
    value = c_per_h * 9 / 5 if unit == "F" else c_per_h
    return f"{value:+.1f} °{unit}/h"


def threshold(celsius: float, unit: Unit = "C") -> str:
    """A threshold as the pushes write it: `16 °C`, `60.8 °F`."""
    return limit_text(celsius, unit)


def sensor_note(accuracy_c: float | None, unit: Unit = "C") -> str:
    """Where the report's room values come from, with the sensor's accuracy if known."""
    if accuracy_c is None:
        return "Room values come from the monitor's sensor."
    return f"Room values come from the monitor's sensor (about ±{delta_text(accuracy_c, unit)})."


def temp_text(celsius: float, unit: Unit) -> str:
    """A reading, always with one decimal: `15.2 °C`."""
    value = celsius * 9 / 5 + 32 if unit == "F" else celsius
    return f"{value:.1f} °{unit}"


def limit_text(celsius: float, unit: Unit) -> str:
    """A threshold, without a needless `.0`: `16 °C`, `60.8 °F`."""
    value = celsius * 9 / 5 + 32 if unit == "F" else celsius
    return f"{round(value, 1):g} °{unit}"


def delta_text(celsius: float, unit: Unit) -> str:
    """A difference of temperatures: 2 °C is 3.6 °F (no 32 offset)."""
    value = celsius * 9 / 5 if unit == "F" else celsius
    return f"{round(value, 1):g} °{unit}"


def span_text(seconds: float) -> str:
    """`40 s`, `25 min`, `1 h 5 min`: short enough for a lock screen."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


# The names the caregivers gave their rooms ("Leo's room"), set by the running hub's
# preferences (hub/preferences.py) whenever they change, and cleared when it stops.
_ROOM_NAMES: dict[str, str] = {}


def use_room_names(names: Mapping[str, str]) -> None:
    """Every text from now on calls these rooms by these names."""
    _ROOM_NAMES.clear()
    _ROOM_NAMES.update(names)


def room_words(room: str) -> str:
    """`baby-room` → `Baby room`: room names are slugs in topics, words on a phone; or the
    name the caregivers gave the room."""
    named = _ROOM_NAMES.get(room)
    if named:
        return named
    words = room.replace("-", " ").replace("_", " ").strip() or room
    return words[:1].upper() + words[1:]


def accuracy_text(unit: Unit, accuracy_c: float | None) -> str:
    return "" if accuracy_c is None else f"Sensor accuracy ±{delta_text(accuracy_c, unit)}."
