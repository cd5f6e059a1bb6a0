"""The bedtime check-in and the morning summary, decided from stored history and the time; pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Literal

from hub.comfort import ComfortBand
from hub.conditions import Condition, Incident

Kind = Literal["checkin", "summary"]
# A time missed while the hub was down is sent at start only within this long after it.
GRACE = timedelta(hours=2)
# The night a summary covers and the check-in looks back on, when the other setting is
# unset: from 19:00 the evening before to 07:00.
NIGHT_FROM = time(19, 0)
NIGHT_TO = time(7, 0)
# The warming reminder: at least DIP_NIGHTS of the last LOOK_BACK nights were measured
# (readings in at least half of their hours) and fell below the comfortable band's lower
# edge (rules.cool_below_c).
LOOK_BACK = 3
DIP_NIGHTS = 2
_SILENCE = (Condition.OFFLINE, Condition.NO_DATA)


def parse_hhmm(text: str) -> time:
    """`19:30` → 19:30; the settings validate the form."""
    return time.fromisoformat(text)


def due(at: str | None, local_now: datetime, last_sent: date | None) -> date | None:
    """The local day whose push is due now, or None: from `at` on that day for GRACE,
    once. A time the hub slept through is sent at start while still within GRACE."""
    if at is None:
        return None
    today = local_now.date()
    scheduled = datetime.combine(today, parse_hhmm(at), local_now.tzinfo)
    if last_sent is not None and last_sent >= today:
        return None
    if scheduled <= local_now < scheduled + GRACE:
        return today
    return None


def next_time(at: str | None, local_now: datetime) -> datetime | None:
    """When `at` next comes round (today's if still ahead, else tomorrow's)."""
    if at is None:
        return None
    scheduled = datetime.combine(local_now.date(), parse_hhmm(at), local_now.tzinfo)
    return scheduled if scheduled > local_now else scheduled + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Night:
    """The night that ends on the morning of `morning`, in local time."""

    morning: date
    start: datetime
    end: datetime

    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def night(
    morning: date, tz: tzinfo | None, checkin_at: str | None, summary_at: str | None
) -> Night:
    """From the check-in time (else 19:00) to the summary time (else 07:00); a check-in
    after the summary's time of day falls on the evening before."""
    begin = parse_hhmm(checkin_at) if checkin_at else NIGHT_FROM
    finish = parse_hhmm(summary_at) if summary_at else NIGHT_TO
    end = datetime.combine(morning, finish, tz)
    start = datetime.combine(morning if begin < finish else morning - timedelta(days=1), begin, tz)
    return Night(morning, start, end)


# --- the check-in ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomNow:
    """A room at check-in: its latest reading, and whether it is live (a fresh reading,
    not offline, no open no-data or offline alert)."""

    room: str
    temperature_c: float | None
    live: bool


@dataclass(frozen=True, slots=True)
class HourLow:
    """The lowest reading of one hour of the hourly rollup."""

    start: datetime
    low_c: float


@dataclass(frozen=True, slots=True)
class NightLow:
    night: Night
    measured: bool  # readings in at least half of its hours
    low_c: float | None
    low_at: datetime | None  # the start of the hour it fell in


@dataclass(frozen=True, slots=True)
class ColdNights:
    """The reminder's facts: `dipped` of the last `nights` fell below `edge_c`."""

    room: str
    nights: int
    dipped: int
    edge_c: float
    low_c: float
    low_at: datetime  # local: the hour of the lowest reading


def night_lows(hours: Sequence[HourLow], nights: Sequence[Night]) -> list[NightLow]:
    """Each night's lowest hourly reading and the hour it fell in."""
    lows: list[NightLow] = []
    for each in nights:
        inside = [h for h in hours if each.start <= h.start < each.end]
        lowest = min(inside, key=lambda h: h.low_c, default=None)
        measured = len({h.start for h in inside}) * 2 >= each.hours()
        lows.append(
            NightLow(
                each,
                measured,
                lowest.low_c if lowest else None,
                lowest.start.astimezone(each.start.tzinfo) if lowest else None,
            )
        )
    return lows


def cold_nights(room: str, lows: Sequence[NightLow], edge_c: float) -> ColdNights | None:
    """The reminder, when at least DIP_NIGHTS of the nights were measured and fell below
    the edge; None otherwise (a missing night never counts as a cold one)."""
    dipped = [n for n in lows if n.measured and n.low_c is not None and n.low_c < edge_c]
    if len(dipped) < DIP_NIGHTS:
        return None
    lowest = min(dipped, key=lambda n: n.low_c if n.low_c is not None else edge_c)
    assert lowest.low_c is not None and lowest.low_at is not None
    return ColdNights(room, len(lows), len(dipped), edge_c, lowest.low_c, lowest.low_at)


# --- the morning summary -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of the night longer than rules.stale_after_s without a stored reading.
    `alerted`: the room's offline or no-data alert covered it (the monitor in the room
    went quiet); otherwise nothing was watching to raise one (the hub was not running)."""

    start: datetime
    end: datetime
    alerted: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """An alert of the night and who answered it, if anyone."""

    condition: Condition
    opened_at: datetime
    acked_by: str | None
    acked_via: str | None


@dataclass(frozen=True, slots=True)
class NightSummary:
    room: str
    night: Night
    low_c: float | None
    high_c: float | None
    band: ComfortBand
    minutes_outside: int
    alerts: tuple[Answer, ...]
    gaps: tuple[Gap, ...]


def summarize(
    room: str,
    each_night: Night,
    samples: Sequence[tuple[datetime, float]],
    incidents: Sequence[Incident],
    band: ComfortBand,
    stale_after_s: float,
) -> NightSummary:
    """The night of one room from its readings (time, °C), oldest first, and the
    incidents open at any time in it.

    A reading stands for the time until the next one, up to stale_after_s: minutes
    outside the comfortable band (cool_below_c … warm_above_c) add up those stretches.
    """
    stale, tz = timedelta(seconds=stale_after_s), each_night.start.tzinfo
    inside = [
        (ts.astimezone(tz), t) for ts, t in samples if each_night.start <= ts < each_night.end
    ]
    outside = timedelta()
    for (ts, temperature), (later, _) in pairwise([*inside, (each_night.end, 0.0)]):
        if not band.cool_below_c <= temperature <= band.warm_above_c:
            outside += min(later - ts, stale)
    silences = [
        (i.opened_at, i.resolved_at or each_night.end) for i in incidents if i.condition in _SILENCE
    ]
    edges = [each_night.start, *(ts for ts, _ in inside), each_night.end]
    gaps = tuple(
        Gap(a, b, any(s < b and a < e for s, e in silences))
        for a, b in pairwise(edges)
        if b - a > stale
    )
    alerts = tuple(
        Answer(i.condition, i.opened_at.astimezone(tz), i.acked_by, i.acked_via)
        for i in sorted(incidents, key=lambda i: i.opened_at)
    )
    temperatures = [t for _, t in inside]
    return NightSummary(
        room=room,
        night=each_night,
        low_c=min(temperatures, default=None),
        high_c=max(temperatures, default=None),
        band=band,
        minutes_outside=round(outside.total_seconds() / 60),
        alerts=alerts,
        gaps=gaps,
    )
