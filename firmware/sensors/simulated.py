"""A scripted room for the demo and the tests: steady, a cold night, a flaky or a hung sensor."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Final, Literal, get_args

from firmware.sensors.base import SensorReadError, SensorReading, SensorUnavailable

log = logging.getLogger("nursery.firmware")

Scenario = Literal["steady", "cold-night", "flaky", "hang"]

COLD_NIGHT_CYCLE_S: Final = 600.0
FLAKY_CYCLE_READS: Final = 50
FLAKY_SPIKE_READ: Final = 12  # one read per cycle comes back 15 °C too warm
FLAKY_SPIKE_C: Final = 15.0
FLAKY_STUCK_READS: Final = range(20, 32)  # the same value, exactly, read after read
FLAKY_DROPOUT_READS: Final = range(40, 48)  # no answer at all: retries run out
FLAKY_ERROR_EVERY: Final = 7  # an occasional checksum error that a retry fixes
# `hang`: a steady room this long after the first read, then a read that never returns,
# as a wedged DHT driver's does (nothing raised, nothing logged by the driver).
HANG_AFTER_S: Final = 5.0


def _smoothstep(start: float, end: float, fraction: float) -> float:
    fraction = min(max(fraction, 0.0), 1.0)
    return start + (end - start) * fraction * fraction * (3.0 - 2.0 * fraction)


def cold_night_temperature(elapsed_s: float) -> float:
    """The noiseless cold-night curve: 19 °C, down to 15 °C, back up to 18.5 °C, repeat."""
    t = elapsed_s % COLD_NIGHT_CYCLE_S
    if t < 60.0:
        return 19.0
    if t < 240.0:
        return _smoothstep(19.0, 15.0, (t - 60.0) / 180.0)
    if t < 420.0:
        return 15.0
    return _smoothstep(15.0, 18.5, (t - 420.0) / 180.0)


class SimulatedSensor:
    """A scripted room for demos and tests: values are a function of time since the first read.

    `flaky` follows its script by read count instead (every 50 reads: one spike, a stuck
    stretch, a dropout long enough to exhaust retries, and scattered checksum errors), so
    its failures show up at any interval. `hang` reads a steady room for HANG_AFTER_S,
    then blocks in `read` until the sensor is closed (from another thread): what the
    systemd watchdog is there for.
    """

    min_read_spacing_s: float = 0.0

    def __init__(
        self,
        scenario: Scenario,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        if scenario not in get_args(Scenario):
            raise ValueError(f"unknown scenario {scenario!r}")
        self.scenario = scenario
        self._clock = clock
        self._rng = random.Random(seed)
        self._start: float | None = None
        self._reads = 0
        self._stuck: SensorReading | None = None
        self._closed = False
        self._released = threading.Event()

    def read(self) -> SensorReading:
        if self._closed:
            raise SensorUnavailable("the simulated sensor is closed")
        now = self._clock()
        if self._start is None:
            self._start = now
        elapsed = now - self._start
        index = self._reads
        self._reads += 1
        if self.scenario == "flaky":
            return self._flaky(index % FLAKY_CYCLE_READS)
        if self.scenario == "cold-night":
            return self._measure(cold_night_temperature(elapsed))
        if self.scenario == "hang" and elapsed >= HANG_AFTER_S:
            log.warning("simulated sensor: this read hangs (scenario hang)")
            self._released.wait()
            raise SensorUnavailable("the simulated sensor was closed during a hung read")
        return self._measure(19.5)

    def _measure(self, temperature_c: float, offset_c: float = 0.0) -> SensorReading:
        # Relative humidity rises as the same air cools.
        humidity = 50.0 + (19.5 - temperature_c) * 2.5 + self._rng.uniform(-0.5, 0.5)
        temperature = temperature_c + offset_c + self._rng.uniform(-0.1, 0.1)
        # A DHT22 reports tenths.
        return SensorReading(round(temperature, 1), round(min(max(humidity, 0.0), 100.0), 1))

    def _flaky(self, step: int) -> SensorReading:
        if step in FLAKY_DROPOUT_READS:
            raise SensorReadError("DHT sensor not found, check wiring (simulated)")
        if step in FLAKY_STUCK_READS:
            if step == FLAKY_STUCK_READS.start or self._stuck is None:
                self._stuck = self._measure(19.5)
            return self._stuck
        if step == FLAKY_SPIKE_READ:
            return self._measure(19.5, offset_c=FLAKY_SPIKE_C)
        if step % FLAKY_ERROR_EVERY == FLAKY_ERROR_EVERY - 1:
            raise SensorReadError("Checksum did not validate. Try again. (simulated)")
        return self._measure(19.5)

    def close(self) -> None:
        self._closed = True
        self._released.set()
