"""The room around an episode's onset: what the monitor measured in the hour before it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hub.conditions import Condition
from hub.config import HubConfig
from hub.episodes.model import Snapshot
from hub.sources.settings import stale_after_s
from hub.store.database import Store

SNAPSHOT_WINDOW: Final = timedelta(hours=1)
# Snapshot reads: a raw hour of readings at any sensible interval fits below this.
_MAX_POINTS = 100_000


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    temperature_c: float
    humidity_pct: float


def room_snapshot(
    onset: datetime,
    points: Sequence[Point],
    *,
    cold_below_c: float,
    stale_after_s: float,
    cold_alert_open: bool,
) -> Snapshot:
    """What the monitor measured in the hour up to `onset`.

    The onset values come from the newest reading at most `stale_after_s` before it (an
    older one is not the room at that moment). Minutes below the cold threshold count each
    reading until the next one, but never longer than `stale_after_s`: a silence is not
    counted as cold or warm.
    """
    window = sorted(
        (p for p in points if onset - SNAPSHOT_WINDOW <= p.ts <= onset), key=lambda p: p.ts
    )
    at_onset = None
    if window and (onset - window[-1].ts).total_seconds() <= stale_after_s:
        at_onset = window[-1]
    lowest = min((p.temperature_c for p in window), default=None)
    minutes_cold: float | None = None
    if window:
        seconds = 0.0
        for here, after in zip(window, [*window[1:], None], strict=True):
            until = after.ts if after is not None else onset
            if here.temperature_c < cold_below_c:
                seconds += min((until - here.ts).total_seconds(), stale_after_s)
        minutes_cold = round(seconds / 60, 1)
    return Snapshot(
        reading_at=at_onset.ts if at_onset else None,
        temperature_c=at_onset.temperature_c if at_onset else None,
        humidity_pct=at_onset.humidity_pct if at_onset else None,
        lowest_c=lowest,
        trend_c_per_h=_slope_c_per_h(window),
        minutes_below_cold=minutes_cold,
        cold_below_c=cold_below_c,
        cold_alert_open=cold_alert_open,
        readings=len(window),
    )


def _slope_c_per_h(points: Sequence[Point]) -> float | None:
    """Least-squares slope, so one noisy reading does not make a trend; None when the
    readings span less than ten minutes."""
    if len(points) < 2 or (points[-1].ts - points[0].ts) < timedelta(minutes=10):
        return None
    t0 = points[0].ts
    xs = [(p.ts - t0).total_seconds() / 3600 for p in points]
    ys = [p.temperature_c for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return round(slope, 1) + 0.0  # + 0.0: never a "-0.0"


def read_snapshot(settings: HubConfig, store: Store, room: str, onset: datetime) -> Snapshot:
    """Readings and cold alerts of the hour before `onset`, from the hub's store."""
    series = store.readings(room, onset - SNAPSHOT_WINDOW, onset, _MAX_POINTS)
    points = [Point(p.ts, p.temperature_c, p.humidity_pct) for p in series.points]
    cold_open = any(
        incident.room == room
        and incident.condition is Condition.COLD
        and incident.opened_at <= onset
        and (incident.resolved_at is None or incident.resolved_at > onset)
        for incident in store.recent_incidents(onset, limit=_MAX_POINTS)
    )
    rules = settings.rules
    return room_snapshot(
        onset,
        points,
        cold_below_c=rules.effective("cold_below_c"),
        stale_after_s=stale_after_s(settings.hub.sources, room, rules.stale_after_s),
        cold_alert_open=cold_open,
    )
