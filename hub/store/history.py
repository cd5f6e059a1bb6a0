"""The dashboard's three chart ranges: which window, how coarse, and from which table (the
window and day arithmetic is pure; only `history()` asks the store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as day_start
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.store.database import Store
from hub.store.records import HOUR_MS, Bucket, from_ms, hour_of, to_ms

HistoryRange = Literal["24h", "7d", "1y"]
Source = Literal["readings", "hourly", "daily"]

# 24 h comes from the raw readings: each reading while there are few, else 5-minute buckets
# that keep their min and max, so a short cold spell is not averaged away. 7 days come from
# the hourly rollup, and 1 year from the hourly rollup summed into days of the viewer's time
# zone, so neither reads millions of rows.
RAW_BUCKET_MS: Final = 5 * 60 * 1000
# Up to one point per 5 minutes: each reading itself; more are bucketed.
RAW_MAX_POINTS: Final = 24 * 12
WEEK_HOURS: Final = 7 * 24
YEAR_DAYS: Final = 365
DAY_S: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class Stat:
    mean: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """What a chart draws for one stretch of time: the mean line and the min–max band."""

    ts: datetime  # the start of the stretch; the reading's own time for a single reading
    count: int
    temperature_c: Stat
    humidity_pct: Stat


@dataclass(frozen=True, slots=True)
class AlertPeriod:
    id: int
    condition: str
    severity: str
    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class History:
    room: str
    range: HistoryRange
    since: datetime
    until: datetime
    bucket_s: int  # 0 when each point is one reading
    source: Source
    newest: datetime | None  # the newest reading in the window: where the line ends
    points: list[ChartPoint]
    alerts: list[AlertPeriod]


def time_zone(name: str) -> tzinfo:
    """An IANA time zone by name ("Europe/London"); ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Europe/London"
        ) from exc


def window(span: HistoryRange, now: datetime, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """[since, until] of a range ending now: 24 hours; 7 days from a whole hour; 365 days
    and today from a local midnight."""
    if span == "24h":
        return now - timedelta(hours=24), now
    if span == "7d":
        return from_ms(hour_of(to_ms(now)) - WEEK_HOURS * HOUR_MS), now
    first = now.astimezone(tz).date() - timedelta(days=YEAR_DAYS)
    return datetime.combine(first, day_start(), tzinfo=tz).astimezone(UTC), now


def day_bounds(since: datetime, until: datetime, tz: tzinfo) -> list[int]:
    """Each local midnight (ms since the epoch) from since's day to the one after until's:
    the bounds of the days between. A day is 23 or 25 hours when the clocks change."""
    day = since.astimezone(tz).date()
    last = until.astimezone(tz).date() + timedelta(days=1)
    starts = []
    while day <= last:
        starts.append(to_ms(datetime.combine(day, day_start(), tzinfo=tz)))
        day += timedelta(days=1)
    return starts


def chart_point(bucket: Bucket) -> ChartPoint:
    n = bucket.count
    return ChartPoint(
        ts=from_ms(bucket.start_ms),
        count=n,
        temperature_c=Stat(
            round(bucket.temperature_sum / n, 2),
            round(bucket.temperature_min, 2),
            round(bucket.temperature_max, 2),
        ),
        humidity_pct=Stat(
            round(bucket.humidity_sum / n, 2),
            round(bucket.humidity_min, 2),
            round(bucket.humidity_max, 2),
        ),
    )


def history(
    store: Store, room: str, span: HistoryRange, now: datetime, tz: tzinfo = UTC
) -> History:
    """The room's chart for a range ending `now`, with the alerts open at any time in it."""
    since, until = window(span, now, tz)
    source: Source
    if span == "24h":
        buckets = store.readings_as_buckets(room, since, until, RAW_MAX_POINTS + 1)
        bucket_s, source = 0, "readings"
        if len(buckets) > RAW_MAX_POINTS:
            buckets = store.buckets(room, since, until, RAW_BUCKET_MS)
            bucket_s = RAW_BUCKET_MS // 1000
    elif span == "7d":
        buckets = store.hourly(room, since, until)
        bucket_s, source = HOUR_MS // 1000, "hourly"
    else:
        buckets = store.hourly_sums(room, day_bounds(since, until, tz))
        bucket_s, source = DAY_S, "daily"
    alerts = [
        AlertPeriod(
            id=incident.id or 0,
            condition=incident.condition.value,
            severity=incident.severity.name.lower(),
            opened_at=incident.opened_at,
            resolved_at=incident.resolved_at,
        )
        for incident in store.incidents_between(room, since, until)
    ]
    return History(
        room=room,
        range=span,
        since=since,
        until=until,
        bucket_s=bucket_s,
        source=source,
        newest=store.newest_reading_at(room, since, until),
        points=[chart_point(bucket) for bucket in buckets],
        alerts=alerts,
    )
