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

from contract.topics import ContractError, check_name
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, Section

DHT_MIN_INTERVAL_S = 2.0
# The firmware's GPIO settings, in declaration order: no two may name the same pin.
PIN_KEYS = ("pin", "led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin")
PIN_OFF = frozenset({"off", "none", ""})


class FirmwareSettings(Section):
    room: str = Field("nursery", description="Room name used in topics (a-z, 0-9, `-`, `_`).")
    sensor: Literal["dht22", "dht11", "simulated"] = Field(
        "dht22", description="Sensor type: `dht22`, `dht11`, or `simulated` for a demo or test."
    )
    pin: int = Field(4, ge=0, le=27, description="BCM GPIO number of the DHT data pin.")
    scenario: Literal["steady", "cold-night", "flaky", "hang"] = Field(
        "steady",
        description="What the simulated sensor plays: `steady`, `cold-night`, `flaky` or "
        "`hang` (a driver that stops returning).",
    )
    interval_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between readings; at least 2 for a DHT, any positive value "
        "when simulated.",
    )
    read_retries: int = Field(
        3, ge=0, le=10, description="Extra attempts when a DHT read fails, 2 s apart."
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
        description="BCM GPIO number that powers the DHT, so a hung sensor can be switched off "
        "and on again; unset when it runs from 3V3.",
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
        try:
            return check_name("room", value)
        except ContractError as exc:
            raise ValueError(str(exc)) from exc

    @_field_validator("interval_s")
    @classmethod
    def _dht_interval(cls, value: float, info: ValidationInfo) -> float:
        sensor = info.data.get("sensor", "dht22")
        if sensor != "simulated" and value < DHT_MIN_INTERVAL_S:
            raise ValueError(
                f"must be at least {DHT_MIN_INTERVAL_S:g} for a {sensor} sensor "
                "(it cannot be read faster)"
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
        for key in PIN_KEYS:
            if key == info.field_name:
                break
            if info.data.get(key) == value:
                raise ValueError(f"GPIO{value} is already firmware.{key}")
        if info.field_name == "cold_led_pin" and info.data.get("led_pin") is None:
            raise ValueError("a cold LED needs the status LED too: set firmware.led_pin")
        return value

    def pins(self) -> dict[str, int | None]:
        """Every pin setting, the DHT's first: what `nursery firmware --check` reports."""
        return {key: getattr(self, key) for key in PIN_KEYS}


class FirmwareConfig(BaseModel):
    """What the firmware process reads: the broker, its own section and the room rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker.")
    firmware: FirmwareSettings = Field(
        default_factory=FirmwareSettings, description="The Pi in the nursery."
    )
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Room rules.")
