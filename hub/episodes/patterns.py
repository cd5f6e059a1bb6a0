"""Patterns in the log: counts per day and week, durations, time of day, the room's comfort
band at onset, and signs. A pattern is shown as a pattern, never as a cause."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final

from hub.comfort import COMFORT_BANDS, Comfort, ComfortBand
from hub.episodes.model import PATTERN_CAVEAT, SIGNS, Episode, Sign, episode_signs

DURATION_BUCKETS: Final[tuple[tuple[str, float], ...]] = (
    ("under 10 s", 10.0),
    ("10–30 s", 30.0),
    ("30–60 s", 60.0),
    ("over 1 min", math.inf),
)
PARTS_OF_DAY: Final[tuple[tuple[str, int], ...]] = (
    ("night (0–6 h)", 6),
    ("morning (6–12 h)", 12),
    ("afternoon (12–18 h)", 18),
    ("evening (18–24 h)", 24),
)


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int
    seconds: float  # total timed duration


@dataclass(frozen=True, slots=True)
class Durations:
    timed: int
    untimed: int
    median_s: float | None
    longest_s: float | None
    total_s: float
    buckets: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Patterns:
    first_day: date
    last_day: date
    total: int
    per_day: tuple[DayCount, ...]
    per_week: tuple[DayCount, ...]  # `day` is the Monday the week starts on
    durations: Durations
    by_hour: tuple[int, ...]  # 24 counts, local time of onset
    by_part_of_day: tuple[tuple[str, int], ...]
    by_band: tuple[tuple[Comfort, int], ...]  # room comfort band at onset
    signs: tuple[tuple[Sign, int], ...]
    caveat: str = PATTERN_CAVEAT


def durations(episodes: Sequence[Episode]) -> Durations:
    timed = sorted(d for e in episodes if (d := e.duration_s) is not None)
    untimed = sum(1 for e in episodes if e.duration_s is None)
    buckets: Counter[str] = Counter()
    for seconds in timed:
        label = next(name for name, below in DURATION_BUCKETS if seconds < below)
        buckets[label] += 1
    return Durations(
        timed=len(timed),
        untimed=untimed,
        median_s=statistics.median(timed) if timed else None,
        longest_s=timed[-1] if timed else None,
        total_s=sum(timed),
        buckets=tuple((name, buckets[name]) for name, _ in DURATION_BUCKETS),
    )


def patterns(
    episodes: Iterable[Episode],
    first_day: date,
    last_day: date,
    zone: tzinfo,
    band: ComfortBand,
    now: datetime,
) -> Patterns:
    """Counts per local day and week, durations, time of day and the room's comfort band
    at onset, for the episodes that started on `first_day`…`last_day` in `zone`."""
    chosen = sorted(
        (
            e
            for e in episodes
            if e.deleted_at is None
            and first_day <= e.started_at.astimezone(zone).date() <= last_day
        ),
        key=lambda e: e.started_at,
    )
    days: dict[date, list[Episode]] = {}
    for episode in chosen:
        days.setdefault(episode.started_at.astimezone(zone).date(), []).append(episode)
    per_day = []
    day = first_day
    while day <= last_day:
        items = days.get(day, [])
        per_day.append(DayCount(day, len(items), sum(e.duration_s or 0.0 for e in items)))
        day += timedelta(days=1)
    weeks: dict[date, list[DayCount]] = {}
    for count in per_day:
        weeks.setdefault(count.day - timedelta(days=count.day.weekday()), []).append(count)
    per_week = tuple(
        DayCount(monday, sum(c.count for c in counts), sum(c.seconds for c in counts))
        for monday, counts in sorted(weeks.items())
    )
    hours = [0] * 24
    for episode in chosen:
        hours[episode.started_at.astimezone(zone).hour] += 1
    parts = []
    low = 0
    for name, high in PARTS_OF_DAY:
        parts.append((name, sum(hours[low:high])))
        low = high
    bands: Counter[Comfort] = Counter(
        band.classify(e.snapshot.temperature_c if e.snapshot else None) for e in chosen
    )
    signs: Counter[Sign] = Counter(s for e in chosen for s in episode_signs(e, now))
    return Patterns(
        first_day=first_day,
        last_day=last_day,
        total=len(chosen),
        per_day=tuple(per_day),
        per_week=per_week,
        durations=durations(chosen),
        by_hour=tuple(hours),
        by_part_of_day=tuple(parts),
        by_band=tuple((b, bands[b]) for b in (*COMFORT_BANDS, "unknown")),
        signs=tuple((s, signs[s]) for s in SIGNS),
    )
