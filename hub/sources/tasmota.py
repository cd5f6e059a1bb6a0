"""Tasmota: `tele/<topic>/SENSOR` every TelePeriod and the retained `tele/<topic>/LWT`."""

# As documented at https://tasmota.github.io/docs/MQTT/ (FullTopic `%prefix%/%topic%/`,
# telemetry prefix `tele`, LWT `Online`/`Offline`): SENSOR is JSON with one object per
# sensor, named after it (`AM2301`, `SI7021`, `BME280`, `DS18B20`…) and holding
# `Temperature` and `Humidity`, and `TempUnit` `C` or `F`
# (https://tasmota.github.io/docs/Commands/#setoption8). Its `Time` is local time without a
# zone, so it is not taken as the reading's time.

from __future__ import annotations

from typing import Any

from hub.sources.settings import SourceSettings
from hub.sources.update import SourceError, Update, fahrenheit_to_c, json_object, number, plain_text


def subscriptions(source: SourceSettings) -> list[str]:
    return [f"{source.prefix}/SENSOR", f"{source.prefix}/LWT"]


def parse(source: SourceSettings, topic: str, payload: bytes) -> Update | None:
    if topic == f"{source.prefix}/LWT":
        text = plain_text(payload).lower()
        if text == "deepsleep":
            return Update()  # asleep on purpose (DeepSleepTime): its silence limit watches
        if text not in ("online", "offline"):
            raise SourceError(f"LWT must be Online or Offline, got {payload[:40]!r}")
        return Update(online=text == "online")
    if topic != f"{source.prefix}/SENSOR":
        return None
    data = json_object(payload)
    unit = data.get("TempUnit", "C")
    if unit not in ("C", "F"):
        raise SourceError(f"TempUnit must be C or F, got {str(unit)[:10]!r}")
    hot = _sensor(data, source.temperature_sensor, "Temperature")
    wet = _sensor(data, source.humidity_sensor or source.temperature_sensor, "Humidity")
    temperature = number(hot.get("Temperature"), "Temperature") if hot else None
    if temperature is not None and unit == "F":
        temperature = fahrenheit_to_c(temperature)
    humidity = number(wet.get("Humidity"), "Humidity") if wet else None
    if hot is not None and temperature is None:
        return Update(failed="the sensor gave no temperature")
    return Update(temperature_c=temperature, humidity_pct=humidity)


def _sensor(data: dict[str, Any], name: str | None, key: str) -> dict[str, Any] | None:
    """The named sensor's object, or the first one holding `key`."""
    if name is not None:
        found = data.get(name)
        if found is not None and not isinstance(found, dict):
            raise SourceError(f"{name} must be an object")
        return found
    return next((v for v in data.values() if isinstance(v, dict) and key in v), None)
