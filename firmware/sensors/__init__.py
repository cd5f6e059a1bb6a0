"""The sensor seam: one `Sensor` protocol, one module per model, the retry policy."""

from firmware.i2c_parts import I2C_KINDS, I2C_PARTS
from firmware.sensors.base import (
    Sensor,
    SensorError,
    SensorReadError,
    SensorReading,
    SensorUnavailable,
    check_plausible,
)
from firmware.sensors.dht import (
    DHT_MIN_READ_SPACING_S,
    PI_EXTRA_HINT,
    DHTDriver,
    DHTKind,
    DHTSensor,
    DriverFactory,
    adafruit_driver,
)
from firmware.sensors.i2c import I2CSensor, presence
from firmware.sensors.reader import SensorReader
from firmware.sensors.registry import open_sensor
from firmware.sensors.simulated import (
    COLD_NIGHT_CYCLE_S,
    FLAKY_CYCLE_READS,
    FLAKY_DROPOUT_READS,
    FLAKY_ERROR_EVERY,
    FLAKY_SPIKE_C,
    FLAKY_SPIKE_READ,
    FLAKY_STUCK_READS,
    HANG_AFTER_S,
    Scenario,
    SimulatedSensor,
    cold_night_temperature,
)

__all__ = [
    "COLD_NIGHT_CYCLE_S",
    "DHT_MIN_READ_SPACING_S",
    "FLAKY_CYCLE_READS",
    "FLAKY_DROPOUT_READS",
    "FLAKY_ERROR_EVERY",
    "FLAKY_SPIKE_C",
    "FLAKY_SPIKE_READ",
    "FLAKY_STUCK_READS",
    "HANG_AFTER_S",
    "I2C_KINDS",
    "I2C_PARTS",
    "PI_EXTRA_HINT",
    "DHTDriver",
    "DHTKind",
    "DHTSensor",
    "DriverFactory",
    "I2CSensor",
    "Scenario",
    "Sensor",
    "SensorError",
    "SensorReadError",
    "SensorReader",
    "SensorReading",
    "SensorUnavailable",
    "SimulatedSensor",
    "adafruit_driver",
    "check_plausible",
    "cold_night_temperature",
    "open_sensor",
    "presence",
]
