"""The vocabulary every part of the hub shares: conditions, the rules' findings, incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Literal


class Condition(StrEnum):
    COLD = "cold"
    COOL = "cool"
    FAST_DROP = "fast_drop"
    WARM = "warm"
    HOT = "hot"
    HUMIDITY = "humidity"
    NO_DATA = "no_data"
    OFFLINE = "offline"
    SENSOR_SUSPECT = "sensor_suspect"
    CLOCK_SKEW = "clock_skew"
    LOW_BATTERY = "low_battery"  # a battery sensor of another system (hub.sources)


class Severity(IntEnum):
    """Advisories may wait for quiet hours to end; alerts never do."""

    ADVISORY = 1
    WARNING = 2
    ALERT = 3


SEVERITY: dict[Condition, Severity] = {
    Condition.COLD: Severity.ALERT,
    Condition.HOT: Severity.ALERT,
    Condition.NO_DATA: Severity.ALERT,
    Condition.OFFLINE: Severity.ALERT,
    Condition.FAST_DROP: Severity.WARNING,
    Condition.SENSOR_SUSPECT: Severity.WARNING,
    Condition.COOL: Severity.ADVISORY,
    Condition.WARM: Severity.ADVISORY,
    Condition.HUMIDITY: Severity.ADVISORY,
    Condition.CLOCK_SKEW: Severity.ADVISORY,
    Condition.LOW_BATTERY: Severity.ADVISORY,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One active condition of a room, with what was measured against what.

    `value` is the filtered temperature (°C) for temperature conditions, the humidity (%RH)
    for HUMIDITY, the seconds without data for NO_DATA/OFFLINE, the error ratio for
    SENSOR_SUSPECT, the skew in seconds for CLOCK_SKEW, the battery (%) for LOW_BATTERY.
    `worst` is the most extreme value since the condition became active (coldest for
    COLD/COOL/FAST_DROP, warmest for WARM/HOT, furthest from the band for HUMIDITY), which
    the lifecycle uses to re-arm.
    """

    room: str
    condition: Condition
    since: datetime
    value: float | None = None
    threshold: float | None = None
    worst: float | None = None
    minutes_to_cold: float | None = None
    detail: str | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.condition]


AlertState = Literal["open", "acknowledged", "snoozed", "resolved"]


@dataclass(frozen=True, slots=True)
class Incident:
    id: int | None
    room: str
    condition: Condition
    opened_at: datetime
    since: datetime
    value: float | None = None
    threshold: float | None = None
    worst: float | None = None
    minutes_to_cold: float | None = None
    notified_at: datetime | None = None
    last_push_at: datetime | None = None
    repeats: int = 0
    escalated_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    acked_via: str | None = None
    rearm_from: float | None = None
    snoozed_until: datetime | None = None
    held: bool = False
    resolved_at: datetime | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.condition]

    def state(self, now: datetime) -> AlertState:
        if self.resolved_at is not None:
            return "resolved"
        if self.snoozed_until is not None and self.snoozed_until > now:
            return "snoozed"
        if self.acked_at is not None:
            return "acknowledged"
        return "open"

    def finding(self) -> Finding:
        """The incident's latest measurements, in the shape the messages take."""
        return Finding(
            room=self.room,
            condition=self.condition,
            since=self.since,
            value=self.value,
            threshold=self.threshold,
            worst=self.worst,
            minutes_to_cold=self.minutes_to_cold,
        )
