"""The retry policy over any sensor, spaced so a shutdown never waits out a retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from firmware.sensors.base import Sensor, SensorReadError, SensorReading


class SensorReader:
    """Read with retries, spaced on `stop.wait` so a shutdown never waits out a retry.

    Keeps counters for the runner and the logs: `reads` (attempts), `errors` (failed
    attempts) and `consecutive_failures` (reading slots that failed after all retries
    since the last good reading). The spacing also applies across slots, so a sensor is
    never asked again sooner than `spacing_s` after its previous attempt ended.
    """

    def __init__(
        self,
        sensor: Sensor,
        retries: int,
        spacing_s: float,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retries < 0 or not spacing_s >= 0:
            raise ValueError("retries and spacing_s must not be negative")
        self.sensor = sensor
        self.retries = retries
        self.spacing_s = spacing_s
        self._stop = stop
        self._clock = clock
        self._last_attempt_end: float | None = None
        self.reads = 0
        self.errors = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def read(self) -> SensorReading | None:
        """A good reading, or None when every attempt failed or `stop` was set.

        Only a slot whose attempts all failed counts as a failure; check `stop` to tell
        the two apart.
        """
        for _attempt in range(self.retries + 1):
            if not self._wait_for_spacing():
                return None
            self.reads += 1
            try:
                reading = self.sensor.read()
            except SensorReadError as exc:
                self.errors += 1
                self.last_error = str(exc)
                continue
            finally:
                self._last_attempt_end = self._clock()
            self.consecutive_failures = 0
            return reading
        self.consecutive_failures += 1
        return None

    def _wait_for_spacing(self) -> bool:
        """Wait until the sensor may be read again; False if `stop` was set meanwhile."""
        if self._last_attempt_end is None or self.spacing_s == 0:
            return not self._stop.is_set()
        while True:
            remaining = self._last_attempt_end + self.spacing_s - self._clock()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(remaining):
                return False
