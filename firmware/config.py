"""The firmware's settings: its [firmware] section, and the sections its process reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
)
from pydantic import field_validator as _field_validator

from firmware.i2c_parts import I2C_GPIOS, I2C_MIN_READ_SPACING_S, I2C_PARTS, address_text
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, Section, room_setting

DHT_MIN_INTERVAL_S = 2.0
# The shortest interval each real sensor can be read at (a simulated one: any).
MIN_INTERVAL_S = {
    "dht22": DHT_MIN_INTERVAL_S,
    "dht11": DHT_MIN_INTERVAL_S,
    **dict.fromkeys(I2C_PARTS, I2C_MIN_READ_SPACING_S),
}
# The firmware's GPIO settings, in declaration order: no two may name the same pin.
PIN_KEYS = ("pin", "led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin")
PIN_OFF = frozenset({"off", "none", ""})


class FirmwareSettings(Section):
    room: str = Field("nursery", description="Room name used in topics (a-z, 0-9, `-`, `_`).")
    sensor: Literal["dht22", "dht11", "sht4x", "sht3x", "bme280", "simulated"] = Field(
        "dht22",
        description="Sensor type: `dht22`, `dht11` (a DHT on `pin`), `sht4x`, `sht3x`, "
        "`bme280` (on I²C, at `i2c_address`), or `simulated` for a demo or test.",
    )
    pin: int = Field(4, ge=0, le=27, description="BCM GPIO number of the DHT data pin.")
    i2c_address: int | None = Field(
        None,
        validate_default=True,
        description="I²C address of an `sht4x`, `sht3x` or `bme280` sensor, hex (`0x44`) or "
        "decimal; default the part's own: 0x44 for an SHT4x or SHT3x, 0x77 for a BME280.",
    )
    scenario: Literal["steady", "cold-night", "flaky", "hang"] = Field(
        "steady",
        description="What the simulated sensor plays: `steady`, `cold-night`, `flaky` or "
        "`hang` (a driver that stops returning).",
    )
    interval_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between readings; at least 2 for a DHT, 1 for an I²C sensor, "
        "any positive value when simulated.",
    )
    read_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Extra attempts when a sensor read fails, 2 s apart for a DHT, 1 s for an "
        "I²C sensor.",
    )
    use_pulseio: bool = Field(
        True,
        description="Use the DHT driver's pulseio helper (faster, the Pi default); "
        "false bit-bangs.",
    )

    outbox: Path = Field(
        Path("outbox.db"),
        description="SQLite file that keeps every reading until the hub confirms it stored it.",
    )
    outbox_cap_days: float = Field(
        30.0,
        gt=0,
        description="Most readings the outbox holds, in days of readings at interval_s; "
        "beyond it the oldest are dropped and counted.",
    )
    drain_per_s: float = Field(
        20.0,
        gt=0,
        description="Most backlog readings re-sent per second after an outage, so live "
        "readings keep flowing.",
    )
    health_every_s: float = Field(
        60.0, gt=0, description="Seconds between the firmware's health messages."
    )

    # The parts around the sensor (hardware/README.md). Declared in this order so each pin's
    # validator sees the pins before it, and a collision names the later key.
    led_pin: int | None = Field(
        17,
        ge=0,
        le=27,
        description="BCM GPIO number of the status LED (steady: the monitor reads and "
        "reaches the hub, which says nothing about the room's temperature; slow blink: hub "
        "unreachable; fast blink: sensor fault); `off` for none.",
    )
    button_pin: int | None = Field(
        27,
        ge=0,
        le=27,
        description="BCM GPIO number of the episode button (press: start, press again: stop, "
        "hold 2 s: episode now); `off` for none.",
    )
    buzzer_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number of an active buzzer that chirps when the room is cold and "
        "the hub cannot be reached; unset for none.",
    )
    power_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number that powers the sensor, so a hung sensor can be switched "
        "off and on again; unset when it runs from 3V3.",
    )
    cold_led_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number of a second LED, lit while the room is cold; needs "
        "led_pin; unset for none.",
    )
    power_cycle_after: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed readings in a row (each after its retries) before the sensor is "
        "power-cycled through power_pin.",
    )
    power_cycle_cooldown_s: float = Field(
        600.0,
        ge=0,
        description="Seconds after a power cycle before the sensor may be cycled again.",
    )
    local_cold_below_c: float | None = Field(
        None,
        ge=-10,
        le=40,
        description="While the hub cannot be reached, the Pi itself calls the room cold below "
        "this (°C) for rules.cold_for_s; default rules.cold_below_c.",
    )
    buzzer_every_s: float = Field(
        300.0,
        gt=0,
        description="Seconds between two chirps of the buzzer while the room stays cold and "
        "the hub unreachable.",
    )
    hub_lost_after_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a reading may wait for the hub's answer before the status LED "
        "shows the hub unreachable and the Pi judges the room itself; 30 rides out an "
        "ordinary hub restart (the hub answers within a second or two when up). A lost "
        "broker shows at once.",
    )

    @_field_validator("room")
    @classmethod
    def _room(cls, value: str) -> str:
        return room_setting(value)

    @_field_validator("i2c_address", mode="before")
    @classmethod
    def _hex(cls, value: object) -> object:
        """TOML writes `0x44` as a number; an environment variable or a quoted value is text."""
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                return int(text, 0)
            except ValueError:
                raise ValueError(f"{text!r} is not an I²C address (write it like 0x44)") from None
        return value

    @_field_validator("i2c_address")
    @classmethod
    def _i2c_address(cls, value: int | None, info: ValidationInfo) -> int | None:
        """The part's own address when unset; one the part cannot take is refused."""
        part = I2C_PARTS.get(info.data.get("sensor", "dht22"))
        if part is None:
            return value
        if value is None:
            return part.default_address
        if value not in part.addresses:
            can = " or ".join(address_text(a) for a in part.addresses)
            raise ValueError(
                f"the {part.name} answers at {can}, never at {address_text(value)}"
                if 0 <= value <= 0x7F
                else f"{value} is not a 7-bit I²C address; the {part.name} answers at {can}"
            )
        return value

    @_field_validator("interval_s")
    @classmethod
    def _dht_interval(cls, value: float, info: ValidationInfo) -> float:
        sensor = info.data.get("sensor", "dht22")
        least = MIN_INTERVAL_S.get(sensor, 0.0)
        if value < least:
            raise ValueError(
                f"must be at least {least:g} for a {sensor} sensor (it cannot be read faster)"
            )
        return value

    @_field_validator(
        "led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin", mode="before"
    )
    @classmethod
    def _off(cls, value: object) -> object:
        """TOML has no null: `"off"` (or `"none"`, or an empty env var) means not fitted."""
        if isinstance(value, str) and value.strip().lower() in PIN_OFF:
            return None
        return value

    @_field_validator("led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin")
    @classmethod
    def _one_use_per_pin(cls, value: int | None, info: ValidationInfo) -> int | None:
        """Two parts on one GPIO would fight over it: name the pin already taken."""
        if value is None:
            return None
        sensor = info.data.get("sensor", "dht22")
        if sensor in I2C_PARTS and value in I2C_GPIOS:
            raise ValueError(
                f"GPIO{value} is the I²C bus's {I2C_GPIOS[value]}, which the {sensor} uses"
            )
        for key in PIN_KEYS:
            if key == info.field_name:
                break
            if key == "pin" and sensor in I2C_PARTS:
                continue  # no DHT data pin: the sensor is on I²C
            if info.data.get(key) == value:
                raise ValueError(f"GPIO{value} is already firmware.{key}")
        if info.field_name == "cold_led_pin" and info.data.get("led_pin") is None:
            raise ValueError("a cold LED needs the status LED too: set firmware.led_pin")
        return value

    def pins(self) -> dict[str, int | None]:
        """Every pin setting, the DHT's first (None with an I²C sensor, which has no data
        pin): what `nursery firmware --check` reports."""
        pins = {key: getattr(self, key) for key in PIN_KEYS}
        if self.sensor in I2C_PARTS:
            pins["pin"] = None
        return pins


class FirmwareConfig(BaseModel):
    """What the firmware process reads: the broker, its own section and the room rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker.")
    firmware: FirmwareSettings = Field(
        default_factory=FirmwareSettings, description="The Pi in the nursery."
    )
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Room rules.")
