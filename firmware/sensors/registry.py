"""Which sensor the settings name (`firmware.sensor`), opened; a new model adds one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from firmware.sensors.base import Sensor
from firmware.sensors.dht import DHTSensor
from firmware.sensors.i2c import I2CSensor
from firmware.sensors.simulated import SimulatedSensor

if TYPE_CHECKING:
    from firmware.config import FirmwareSettings

# By `firmware.sensor`; the simulated sensor only when asked for by name.
OPENERS: Final[dict[str, Callable[[FirmwareSettings], Sensor]]] = {
    "simulated": lambda settings: SimulatedSensor(settings.scenario),
    "dht22": lambda settings: DHTSensor("dht22", settings.pin, settings.use_pulseio),
    "dht11": lambda settings: DHTSensor("dht11", settings.pin, settings.use_pulseio),
    "sht4x": lambda settings: I2CSensor("sht4x", settings.i2c_address),
    "sht3x": lambda settings: I2CSensor("sht3x", settings.i2c_address),
    "bme280": lambda settings: I2CSensor("bme280", settings.i2c_address),
}


def open_sensor(settings: FirmwareSettings) -> Sensor:
    """The sensor the settings ask for."""
    return OPENERS[settings.sensor](settings)
