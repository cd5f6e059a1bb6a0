"""Shelly Gen2/Gen3 (the H&T among them): RPC notifications on `<id>/events/rpc`."""

# As documented at https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt and
# https://shelly-api-docs.shelly.cloud/gen2/General/Notifications: `NotifyStatus` and
# `NotifyFullStatus` carry `params.ts` (Unix seconds) and the components, here
# `temperature:0.tC` (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Temperature),
# `humidity:0.rh` (…/Humidity) and `devicepower:0.battery.percent` (…/DevicePower);
# `<id>/online` is `true` or `false`. The topic prefix defaults to the device id.

from __future__ import annotations

from typing import Any

from hub.sources.settings import SourceSettings
from hub.sources.update import SourceError, Update, json_object, number, plain_text, unix_time

NOTIFICATIONS = ("NotifyStatus", "NotifyFullStatus")


def subscriptions(source: SourceSettings) -> list[str]:
    return [f"{source.prefix}/events/rpc", f"{source.prefix}/online"]


def parse(source: SourceSettings, topic: str, payload: bytes) -> Update | None:
    if topic == f"{source.prefix}/online":
        text = plain_text(payload)
        if text not in ("true", "false"):
            raise SourceError(f"online must be true or false, got {payload[:40]!r}")
        # A sleeping H&T is "false" between its wake-ups: an urgent "offline" every ten
        # minutes would teach a parent to ignore pages. Its silence limit catches a dead one.
        return Update(online=True) if text == "true" else Update()
    if topic != f"{source.prefix}/events/rpc":
        return None
    data = json_object(payload)
    if data.get("method") not in NOTIFICATIONS:
        return None  # NotifyEvent and the rest say nothing about the room
    params = data.get("params")
    if not isinstance(params, dict):
        raise SourceError("params must be an object")
    battery = _component(params, "devicepower:0").get("battery")
    return Update(
        temperature_c=number(_component(params, "temperature:0").get("tC"), "tC"),
        humidity_pct=number(_component(params, "humidity:0").get("rh"), "rh"),
        battery_pct=number(battery.get("percent"), "percent")
        if isinstance(battery, dict)
        else None,
        measured_at=unix_time(params.get("ts"), "ts") if "ts" in params else None,
    )


def _component(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key, {})
    if not isinstance(value, dict):
        raise SourceError(f"{key} must be an object")
    return value
