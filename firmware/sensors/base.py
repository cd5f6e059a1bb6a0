"""What every sensor gives the firmware: the `Sensor` protocol, its reading and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contract.errors import NurseryError
from contract.topics import HUMIDITY_RANGE_PCT, TEMPERATURE_RANGE_C


class SensorError(NurseryError, RuntimeError):
    """Root of the sensor exceptions."""


class SensorReadError(SensorError):
    """One read failed (checksum, short buffer, no answer); the next one may work."""


class SensorUnavailable(SensorError):
    """The sensor cannot be opened (or used any more); retrying will not help."""


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One measurement as the sensor reported it, before any plausibility rules."""

    temperature_c: float
    humidity_pct: float


def check_plausible(reading: SensorReading) -> SensorReading:
    """The reading, or SensorReadError when it lies outside what the wire contract accepts
    (NaN included): a garbled read, whichever part made it."""
    if not (
        TEMPERATURE_RANGE_C[0] <= reading.temperature_c <= TEMPERATURE_RANGE_C[1]
        and HUMIDITY_RANGE_PCT[0] <= reading.humidity_pct <= HUMIDITY_RANGE_PCT[1]
    ):
        raise SensorReadError(
            f"impossible value {reading.temperature_c} °C, {reading.humidity_pct} %RH"
        )
    return reading


class Sensor(Protocol):
    """What the firmware needs from a sensor.

    `min_read_spacing_s` is the shortest gap between two reads that still gives a fresh
    measurement; the reader waits that long between attempts.
    """

    @property
    def min_read_spacing_s(self) -> float: ...

    def read(self) -> SensorReading:
        """Measure now; raise SensorReadError when this read failed."""
        ...

    def close(self) -> None:
        """Release the hardware; safe to call twice."""
        ...
