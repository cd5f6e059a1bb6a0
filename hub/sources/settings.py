"""`hub.sources`: rooms fed by another system's device over MQTT (docs/sources.md)."""

from __future__ import annotations

import uuid
from typing import Final, Literal

from pydantic import Field, ValidationInfo
from pydantic import field_validator as _field_validator

from mqttlink.settings import Section, room_setting

SourceKind = Literal["zigbee2mqtt", "esphome", "shelly", "tasmota"]
KINDS: Final[tuple[SourceKind, ...]] = ("zigbee2mqtt", "esphome", "shelly", "tasmota")

# How long each kind may be silent before its room has "no data": a little more than the
# longest quiet spell the device has when all is well (docs/sources.md says why each).
STALE_AFTER_S: Final[dict[SourceKind, float]] = {
    "zigbee2mqtt": 3900.0,  # sends on change; many sensors only hourly when nothing moves
    "esphome": 300.0,  # update_interval 60 s by default
    "shelly": 1500.0,  # the H&T wakes about every 10 min, or on change
    "tasmota": 900.0,  # TelePeriod 300 s by default: three missed
}
# A source's readings are stored under one boot id of their own, made from its name.
_BOOT_NAMESPACE: Final = uuid.UUID("6f1c7f39-6a55-4c1e-9d7e-2b1f7e0c5a11")


class SourceSettings(Section):
    """One room whose readings come from another system's device instead of a Pi."""

    room: str = Field(description="Room name, as a Pi room's (a-z, 0-9, `-`, `_`).")
    kind: SourceKind = Field(description="`zigbee2mqtt`, `esphome`, `shelly` or `tasmota`.")
    device: str = Field(
        description="That system's own name for the device: the Zigbee2MQTT friendly name, "
        "the ESPHome node name, the Shelly device id, the Tasmota topic."
    )
    base_topic: str | None = Field(
        None,
        description="That system's topic prefix when not its default: Zigbee2MQTT's "
        "base_topic (`zigbee2mqtt`), ESPHome's topic_prefix (the node name), Shelly's "
        "topic prefix (the device id), Tasmota's telemetry prefix (`tele/<topic>`).",
    )
    stale_after_s: float | None = Field(
        None,
        gt=0,
        description="Seconds without a reading before the room has no data; default by "
        "kind: Zigbee2MQTT 3900, ESPHome 300, Shelly 1500, Tasmota 900.",
    )
    battery_low_pct: float = Field(
        20.0, ge=1, le=90, description="Battery level (%) at or below which a calm advisory shows."
    )
    accuracy_c: float | None = Field(
        None,
        gt=0,
        le=5,
        description="The device's temperature accuracy from its maker (°C), shown with its "
        "readings; unset: not claimed.",
    )
    temperature_sensor: str | None = Field(
        None,
        description="ESPHome: the temperature sensor's object id; Tasmota: the sensor's "
        "name in SENSOR (`AM2301`); unset: found by name.",
    )
    humidity_sensor: str | None = Field(
        None,
        description="ESPHome: the humidity sensor's object id; Tasmota: the sensor with "
        "the humidity; unset: found by name.",
    )
    temperature_unit: Literal["C", "F"] = Field(
        "C",
        description="ESPHome: the unit its temperature sensor reports in (Tasmota and Shelly "
        "say theirs).",
    )

    @_field_validator("room")
    @classmethod
    def _room(cls, value: str) -> str:
        return room_setting(value)

    @_field_validator("device", "base_topic", "temperature_sensor", "humidity_sensor")
    @classmethod
    def _topic_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or len(value) > 120:
            raise ValueError("must be 1-120 characters")
        if any(char in value for char in "+#\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError(
                f"{value!r} must not hold MQTT wildcards (+ #) or start or end with '/'"
            )
        return value

    @_field_validator("device")
    @classmethod
    def _one_level(cls, value: str, info: ValidationInfo) -> str:
        # Only a Zigbee2MQTT friendly name may hold '/': the others are one topic level.
        kind = info.data.get("kind")
        if kind is not None and kind != "zigbee2mqtt" and "/" in value:
            raise ValueError(f"{kind} device names are one topic level, without '/'")
        return value

    @property
    def prefix(self) -> str:
        """The topic prefix the device's messages start with."""
        if self.base_topic is not None:
            return self.base_topic
        return {
            "zigbee2mqtt": "zigbee2mqtt",
            "esphome": self.device,
            "shelly": self.device,
            "tasmota": f"tele/{self.device}",
        }[self.kind]

    @property
    def stale_s(self) -> float:
        """stale_after_s, or the kind's default."""
        return self.stale_after_s if self.stale_after_s is not None else STALE_AFTER_S[self.kind]

    @property
    def boot_id(self) -> str:
        """The boot id its readings are stored under: the same across hub restarts, so a
        message seen twice is stored once."""
        return str(uuid.uuid5(_BOOT_NAMESPACE, f"{self.kind}/{self.prefix}/{self.device}"))


def check_sources(sources: list[SourceSettings]) -> list[SourceSettings]:
    """One source per room, one room per device."""
    rooms: set[str] = set()
    devices: set[tuple[str, str]] = set()
    for index, source in enumerate(sources):
        if source.room in rooms:
            raise ValueError(f"entry {index + 1}: room {source.room!r} has a source already")
        key = (source.kind, source.prefix + "/" + source.device)
        if key in devices:
            raise ValueError(
                f"entry {index + 1}: {source.kind} {source.device!r} feeds a room already"
            )
        rooms.add(source.room)
        devices.add(key)
    return sources


def stale_after_s(sources: list[SourceSettings], room: str, default: float) -> float:
    """The room's silence limit: its source's, or rules.stale_after_s for a Pi room."""
    source = source_for(sources, room)
    return default if source is None else source.stale_s


def source_for(sources: list[SourceSettings], room: str) -> SourceSettings | None:
    return next((source for source in sources if source.room == room), None)
