"""What the room rules are fed (readings, faults, statuses) and what they remember per room."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from hub.conditions import Condition
from hub.monitor.device_clock import BootMark, DeviceClock

PLAUSIBLE_C: Final = (-10.0, 60.0)
PLAUSIBLE_PCT: Final = (0.0, 100.0)
MEDIAN_OF: Final = 3
# Bounds on the state, whatever the reading rate (a simulated sensor may read every 0.1 s).
MAX_SERIES_POINTS: Final = 360
MAX_SLOTS: Final = 720


def aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def seconds_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadingSeen:
    """A reading: `ts` is the device's UTC time of the measurement, `received_at` the hub's.

    `boot_id` and `seq` order a boot's readings when their stamps cannot (equal stamps);
    `live` is the firmware's word on whether it sent the reading the moment it took it
    (None: it did not say, and the hub judges from the readings).
    """

    ts: datetime
    received_at: datetime
    temperature_c: float
    humidity_pct: float
    boot_id: str | None = None
    seq: int | None = None
    live: bool | None = None

    def __post_init__(self) -> None:
        aware(self.ts, "ts")
        aware(self.received_at, "received_at")


@dataclass(frozen=True, slots=True)
class FaultSeen:
    """A failed sensor read reported by the firmware.

    `at` is the hub's time of arrival: the sensor-health window puts readings on the hub's
    clock too (a live one at its arrival, a replay by the estimated offset). The fault counts
    as live, and so may change SENSOR_SUSPECT, when `now` is within replay_after_s of `at`.
    """

    at: datetime
    consecutive_failures: int

    def __post_init__(self) -> None:
        aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """The firmware's retained status or last will; `at` is the hub's time of arrival."""

    at: datetime
    online: bool

    def __post_init__(self) -> None:
        aware(self.at, "at")


Event = ReadingSeen | FaultSeen | StatusSeen


# --- state ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading (raw or filtered): temperature and humidity at a device time."""

    ts: datetime
    temperature_c: float
    humidity_pct: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Filtered temperature at `ts`; `high_c` is the highest value merged into this point."""

    ts: datetime
    temperature_c: float
    high_c: float


@dataclass(frozen=True, slots=True)
class Hold:
    """A condition that needs a stretch of `hold_s` to start, and the same to end.

    `pending_since` is the first reading of a stretch that would flip the condition;
    `since` is the first reading of the stretch that turned it on.
    """

    active: bool = False
    since: datetime | None = None
    pending_since: datetime | None = None
    worst: float | None = None


@dataclass(frozen=True, slots=True)
class StuckRun:
    """Raw temperature and humidity unchanged from `first_ts` to `last_ts`."""

    first_ts: datetime
    last_ts: datetime
    temperature_c: float
    humidity_pct: float


IDLE: Final = Hold()  # shared: a hold that is neither on nor on its way (frozen, so safe)
HELD: Final = (
    Condition.COLD,
    Condition.COOL,
    Condition.WARM,
    Condition.HOT,
    Condition.HUMIDITY,
)
# Read-only by type (Mapping): a plain dict so a state can be pickled (hub/replay/parts.py).
NO_HOLDS: Final[Mapping[Condition, Hold]] = dict.fromkeys(HELD, IDLE)


@dataclass(frozen=True, slots=True)
class RoomRules:
    """Everything the rules remember about one room; small and bounded by construction."""

    room: str
    watching_since: datetime | None = None  # hub time of the first step
    # Times below are the hub's: a live reading's arrival, or a replay's ts + clock.shift_s
    # (on the hub's clock, give or take clock_skew_s).
    clock: DeviceClock = field(default_factory=DeviceClock)
    boots: tuple[BootMark, ...] = ()  # the newest reading of each recent boot, for pacing
    # Filter: the last accepted raw readings, and a lone jump waiting for confirmation.
    window: tuple[Sample, ...] = ()
    jump: Sample | None = None
    newest_ts: datetime | None = None  # newest reading that reached the filter
    newest_seq: tuple[str, int] | None = None  # its boot and seq: equal stamps are ordered
    filtered: Sample | None = None
    series: tuple[SeriesPoint, ...] = ()  # filtered temperatures, for drop and slope
    peaks: tuple[SeriesPoint, ...] = ()  # the drop window's falling highs (drop_peaks)
    last_live_at: datetime | None = None  # last live accepted reading; None restarts holds
    # Held temperature/humidity conditions, keyed by the conditions in HELD.
    holds: Mapping[Condition, Hold] = field(default_factory=lambda: NO_HOLDS)
    drop: Hold = IDLE
    # Data arriving at all (hub time).
    last_data_at: datetime | None = None  # last valid live reading
    last_replay_at: datetime | None = None
    no_data_since: datetime | None = None
    offline_since: datetime | None = None
    online_at: datetime | None = None
    skew_since: datetime | None = None
    skew_s: float = 0.0  # seconds the device clock is ahead of the hub's (negative: behind)
    # Sensor health (device time): (ts, failed) per reading slot, oldest first, and the
    # unchanged run.
    slots: tuple[tuple[datetime, bool], ...] = ()
    failed_slots: int = 0  # how many of them failed (count_slot keeps it)
    run: StuckRun | None = None
    suspect_since: datetime | None = None

    @classmethod
    def empty(cls, room: str, since: datetime | None = None) -> RoomRules:
        """A room not heard from yet; NO_DATA counts from `since`, else from the first step."""
        return cls(room=room, watching_since=since)

    @property
    def filtered_temperature(self) -> float | None:
        return None if self.filtered is None else self.filtered.temperature_c
