"""How the sensor is really doing: error ratios by kind, a stuck-value detector, and when to
power-cycle a hung sensor; pure bookkeeping over monotonic times passed in."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from firmware.sensors import Sensor, SensorReadError, SensorReading

ErrorKind = Literal["checksum", "timeout", "not_found", "implausible", "other"]
ERROR_KINDS: Final[tuple[ErrorKind, ...]] = (
    "checksum",
    "timeout",
    "not_found",
    "implausible",
    "other",
)

# The texts adafruit_dht 4.0 and Blinka's pulseio raise (all plain RuntimeError), our
# I2CSensor's (around the I²C drivers' "Invalid CRC calculated" / "CRC mismatch" and
# busio's OSError on a NACK) and the sensors' range check; matched case-insensitively
# anywhere in the message, first match wins.
_KIND_MARKERS: Final[tuple[tuple[str, ErrorKind], ...]] = (
    ("checksum did not validate", "checksum"),
    ("a full buffer was not returned", "timeout"),
    ("timed out", "timeout"),
    ("timeout", "timeout"),
    ("dht sensor not found", "not_found"),
    ("unplausible data", "implausible"),
    ("impossible value", "implausible"),
    ("crc", "checksum"),
    ("did not answer", "not_found"),
)

DEFAULT_WINDOW_S: Final = 1800.0
DEFAULT_STUCK_AFTER_S: Final = 1800.0
# A bound on memory whatever the read interval (a simulated sensor may read 10× a second).
MAX_ENTRIES: Final = 20_000


def classify_error(message: str) -> ErrorKind:
    """The kind of one failed read, from the driver's message."""
    text = message.lower()
    for marker, kind in _KIND_MARKERS:
        if marker in text:
            return kind
    return "other"


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass(frozen=True, slots=True)
class SensorHealthSummary:
    """The sensor's health over the last `window_s` seconds, for the health message.

    `error_ratio` is the hub's measure (hub.monitor.rules.error_ratio): reading slots that failed
    after all retries, among all slots. `attempt_error_ratio` counts every attempt, a
    checksum error a retry fixed included: the wiring's quality, long before readings are
    missed. Ratios are None while the window holds nothing to divide by. `unchanged_s` is
    how long the latest value has been repeated exactly (None before two readings agree).
    """

    window_s: float
    slots: int
    failed_slots: int
    error_ratio: float | None
    attempts: int
    failed_attempts: int
    attempt_error_ratio: float | None
    checksum_errors: int
    timeout_errors: int
    not_found_errors: int
    implausible_errors: int
    other_errors: int
    last_error: str | None
    stuck: bool
    unchanged_s: float | None


class SensorHealth:
    """Rolling counters of read attempts and reading slots, and the stuck-value detector.

    Feed it `record_attempt` for every attempt (`ObservedSensor` does) and `record_slot`
    once per reading slot with the slot's outcome; ask `summary(now)`. Times are
    monotonic seconds and must not go backwards. `stuck_after_s=None` turns the stuck
    detector off (a DHT11's whole-degree readings may sit still for hours in a steady room).
    """

    def __init__(
        self,
        window_s: float = DEFAULT_WINDOW_S,
        stuck_after_s: float | None = DEFAULT_STUCK_AFTER_S,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if not window_s > 0:
            raise ValueError("window_s must be positive")
        if stuck_after_s is not None and not stuck_after_s > 0:
            raise ValueError("stuck_after_s must be positive (or None to turn it off)")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.window_s = window_s
        self.stuck_after_s = stuck_after_s
        # (time, kind of the error or None for a good attempt)
        self._attempts: deque[tuple[float, ErrorKind | None]] = deque(maxlen=max_entries)
        # (time, slot succeeded)
        self._slots: deque[tuple[float, bool]] = deque(maxlen=max_entries)
        self.last_error: str | None = None
        self._value: tuple[float, float] | None = None
        self._value_since: float | None = None
        self._value_last: float | None = None

    def record_attempt(self, now: float, error: str | None = None) -> None:
        """One read attempt: `error` is the failed read's message, None for a good read."""
        kind = None if error is None else classify_error(error)
        if error is not None:
            self.last_error = error
        self._attempts.append((now, kind))
        self._prune(now)

    def record_slot(self, now: float, reading: SensorReading | None) -> None:
        """One reading slot: its reading, or None when every attempt failed."""
        self._slots.append((now, reading is not None))
        if reading is not None:
            value = (reading.temperature_c, reading.humidity_pct)
            if value != self._value:
                self._value = value
                self._value_since = now
            self._value_last = now
        self._prune(now)

    @property
    def unchanged_s(self) -> float | None:
        """How long readings have repeated the same value exactly, up to the latest one."""
        if self._value_since is None or self._value_last is None:
            return None
        if self._value_last == self._value_since:
            return None
        return self._value_last - self._value_since

    @property
    def stuck(self) -> bool:
        """Temperature and humidity both exactly unchanged for `stuck_after_s` or longer."""
        unchanged = self.unchanged_s
        return (
            self.stuck_after_s is not None
            and unchanged is not None
            and unchanged >= self.stuck_after_s
        )

    def summary(self, now: float) -> SensorHealthSummary:
        self._prune(now)
        counts = dict.fromkeys(ERROR_KINDS, 0)
        for _, kind in self._attempts:
            if kind is not None:
                counts[kind] += 1
        failed_attempts = sum(counts.values())
        failed_slots = sum(1 for _, ok in self._slots if not ok)
        return SensorHealthSummary(
            window_s=self.window_s,
            slots=len(self._slots),
            failed_slots=failed_slots,
            error_ratio=_ratio(failed_slots, len(self._slots)),
            attempts=len(self._attempts),
            failed_attempts=failed_attempts,
            attempt_error_ratio=_ratio(failed_attempts, len(self._attempts)),
            checksum_errors=counts["checksum"],
            timeout_errors=counts["timeout"],
            not_found_errors=counts["not_found"],
            implausible_errors=counts["implausible"],
            other_errors=counts["other"],
            last_error=self.last_error,
            stuck=self.stuck,
            unchanged_s=self.unchanged_s,
        )

    def _prune(self, now: float) -> None:
        oldest = now - self.window_s
        while self._attempts and self._attempts[0][0] < oldest:
            self._attempts.popleft()
        while self._slots and self._slots[0][0] < oldest:
            self._slots.popleft()


class ObservedSensor:
    """A `Sensor` that tells a `SensorHealth` about every attempt, then behaves as `sensor`.

    Wrap the sensor before handing it to `SensorReader`, so the classification sees each
    attempt's own message rather than only the last one of a slot.
    """

    def __init__(self, sensor: Sensor, health: SensorHealth, clock: Callable[[], float]) -> None:
        self.sensor = sensor
        self.health = health
        self._clock = clock

    @property
    def min_read_spacing_s(self) -> float:
        return self.sensor.min_read_spacing_s

    def read(self) -> SensorReading:
        try:
            reading = self.sensor.read()
        except SensorReadError as exc:
            self.health.record_attempt(self._clock(), str(exc) or type(exc).__name__)
            raise
        self.health.record_attempt(self._clock())
        return reading

    def close(self) -> None:
        self.sensor.close()


# --- power-cycling a hung sensor ----------------------------------------------------

DEFAULT_CYCLE_AFTER_FAILURES: Final = 5
DEFAULT_CYCLE_COOLDOWN_S: Final = 600.0


class PowerCyclePolicy:
    """When to cut a hung DHT's power: after `after_failures` reading slots in a row failed,
    and never again within `cooldown_s` of the previous cycle (a dead sensor is cycled at
    most once per cool-down, not on every slot).

    `due` only asks; call `record_cycle` when the cycle is done (or started) so the
    cool-down runs from it.
    """

    def __init__(
        self,
        after_failures: int = DEFAULT_CYCLE_AFTER_FAILURES,
        cooldown_s: float = DEFAULT_CYCLE_COOLDOWN_S,
    ) -> None:
        if after_failures < 1:
            raise ValueError("after_failures must be at least 1")
        if not (cooldown_s >= 0 and math.isfinite(cooldown_s)):
            raise ValueError("cooldown_s must be a finite number of seconds, 0 or more")
        self.after_failures = after_failures
        self.cooldown_s = cooldown_s
        self.cycles = 0
        self.last_cycle_at: float | None = None

    def due(self, consecutive_failures: int, now: float) -> bool:
        if consecutive_failures < self.after_failures:
            return False
        return self.last_cycle_at is None or now - self.last_cycle_at >= self.cooldown_s

    def record_cycle(self, now: float) -> None:
        self.cycles += 1
        self.last_cycle_at = now
