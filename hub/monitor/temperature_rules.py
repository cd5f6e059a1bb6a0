"""The temperature and humidity rules: the filter, the held conditions, the fast drop."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from statistics import median
from types import MappingProxyType

from hub.conditions import Condition
from hub.monitor.frozen import replace
from hub.monitor.policy import Policy
from hub.monitor.rule_state import (
    IDLE,
    MAX_SERIES_POINTS,
    MEDIAN_OF,
    NO_HOLDS,
    Hold,
    RoomRules,
    Sample,
    SeriesPoint,
    seconds_between,
)

# --- the held conditions, in one table ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldRule:
    """When a held condition starts and when it may end; each must last `hold_s`."""

    starts: Callable[[float], bool]
    ends: Callable[[float], bool]
    hold_s: float
    badness: Callable[[float], float]  # larger is further into the condition, for `worst`
    on_humidity: bool = False


def held_rules(p: Policy) -> Mapping[Condition, HeldRule]:
    """COLD, COOL, WARM, HOT and HUMIDITY, each with its own hysteresis: made once per
    policy, and found by identity first (hashing a policy costs more than the lookup)."""
    last = _last_held
    return last[1] if last is not None and last[0] is p else _held_rules(p)


_last_held: tuple[Policy, Mapping[Condition, HeldRule]] | None = None


@lru_cache(maxsize=16)
def _made_held_rules(p: Policy) -> Mapping[Condition, HeldRule]:

    def outside(h: float) -> float:
        return max(p.humidity_low_pct - h, h - p.humidity_high_pct)

    def colder(t: float) -> float:
        return -t

    def warmer(t: float) -> float:
        return t

    return MappingProxyType(
        {
            Condition.COLD: HeldRule(
                starts=lambda t: t < p.cold_below_c,
                ends=lambda t: t >= p.cold_clear_c,
                hold_s=p.cold_for_s,
                badness=colder,
            ),
            Condition.COOL: HeldRule(
                starts=lambda t: t < p.cool_below_c,
                ends=lambda t: t >= p.cool_below_c,
                hold_s=p.cool_for_s,
                badness=colder,
            ),
            Condition.WARM: HeldRule(
                starts=lambda t: t > p.warm_above_c,
                ends=lambda t: t <= p.warm_above_c,
                hold_s=p.warm_for_s,
                badness=warmer,
            ),
            Condition.HOT: HeldRule(
                starts=lambda t: t > p.hot_above_c,
                ends=lambda t: t <= p.hot_above_c - p.hot_clear_margin_c,
                hold_s=p.hot_for_s,
                badness=warmer,
            ),
            Condition.HUMIDITY: HeldRule(
                starts=lambda h: outside(h) > 0,
                ends=lambda h: outside(h) <= 0,
                hold_s=p.humidity_for_s,
                badness=outside,
                on_humidity=True,
            ),
        }
    )


def _held_rules(p: Policy) -> Mapping[Condition, HeldRule]:
    global _last_held  # one (policy, table) pair, replaced whole: safe across threads
    table = _made_held_rules(p)
    _last_held = (p, table)
    return table


def _advance(hold: Hold, rule: HeldRule, value: float, ts: datetime, restart: bool) -> Hold:
    """One live filtered value: flip the condition once the opposite stretch lasted hold_s.

    `ts` is the hub's time of arrival. `restart` means continuity was lost (a gap in live
    readings, or the hub's own clock went back): a stretch in progress starts again, an
    active condition stays active. The device's clock plays no part, so no error of it
    can start, stretch or cut short a stretch.
    """
    if restart and not hold.active:
        hold = IDLE
    flipping = rule.ends(value) if hold.active else rule.starts(value)
    if not hold.active and not flipping:
        return IDLE
    worst = hold.worst
    if worst is None or rule.badness(value) > rule.badness(worst):
        worst = value
    if not flipping:
        return replace(hold, pending_since=None, worst=worst)
    pending = ts if restart or hold.pending_since is None else hold.pending_since
    if seconds_between(ts, pending) < rule.hold_s:
        return replace(hold, pending_since=pending, worst=worst)
    if hold.active:
        return IDLE
    return Hold(active=True, since=pending, worst=worst)


# --- filtering ----------------------------------------------------------------------------


def filter_reading(s: RoomRules, raw: Sample, p: Policy) -> tuple[RoomRules, list[Sample]]:
    """Median of the last three accepted readings, after holding back a lone jump.

    A reading more than max_jump_c from the last accepted one waits; the next reading
    either confirms it (within max_jump_c of it: a heater really changed the room) and
    both are accepted, or refutes it and the jump is dropped as a spike.
    """
    if s.jump is not None and abs(raw.temperature_c - s.jump.temperature_c) <= p.max_jump_c:
        incoming = [s.jump, raw]
    elif not s.window or abs(raw.temperature_c - s.window[-1].temperature_c) <= p.max_jump_c:
        incoming = [raw]
    else:
        return replace(s, jump=raw, newest_ts=raw.ts), []
    window = s.window
    accepted = []
    for sample in incoming:
        window = (*window, sample)[-MEDIAN_OF:]
        accepted.append(
            Sample(
                sample.ts,
                _median([w.temperature_c for w in window]),
                _median([w.humidity_pct for w in window]),
            )
        )
    return replace(s, window=window, jump=None, newest_ts=raw.ts), accepted


def extend_series(
    series: tuple[SeriesPoint, ...], point: Sample, p: Policy
) -> tuple[SeriesPoint, ...]:
    """Keep the filtered temperatures of the drop/slope window, at most MAX_SERIES_POINTS.

    Readings closer together than span/MAX_SERIES_POINTS share a point that remembers
    their highest value, so a fast sensor cannot hide a fall or grow the state.
    """
    span = max(p.drop_window_s, p.slope_window_s)
    oldest = point.ts - timedelta(seconds=span)
    if series and series[-1].ts <= point.ts:  # in order, the usual: only old points go
        kept = series[bisect_left(series, oldest, key=_point_ts) :]
    else:
        kept = _between(series, oldest, point.ts)
    t = point.temperature_c
    if kept and seconds_between(point.ts, kept[-1].ts) < span / MAX_SERIES_POINTS:
        last = kept[-1]
        kept = (*kept[:-1], SeriesPoint(last.ts, t, max(last.high_c, t)))
    else:
        kept = (*kept, SeriesPoint(point.ts, t, t))
    return kept[-MAX_SERIES_POINTS:]


# --- temperature and humidity ---------------------------------------------------------------


def judge_temperature(s: RoomRules, point: Sample, p: Policy) -> RoomRules:
    """The held conditions and FAST_DROP, on one live filtered value (`point.ts` is the
    hub's time of arrival). Two readings may arrive at one instant: a gap of zero goes on."""
    gap = None if s.last_live_at is None else seconds_between(point.ts, s.last_live_at)
    restart = gap is None or gap < 0 or gap > p.stale_after_s
    holds: dict[Condition, Hold] | None = None  # a new table only when a hold changed
    for condition, rule in held_rules(p).items():
        hold = s.holds[condition]
        value = point.humidity_pct if rule.on_humidity else point.temperature_c
        if hold is IDLE and not rule.starts(value):
            continue  # the usual reading: neither on nor on its way, as _advance would say
        advanced = _advance(hold, rule, value, point.ts, restart)
        if advanced is not hold:
            holds = holds or dict(s.holds)
            holds[condition] = advanced
    if holds is not None:  # NO_HOLDS again once all are idle: findings() skips them then
        table = NO_HOLDS if all(h is IDLE for h in holds.values()) else holds
    return replace(
        s,
        holds=s.holds if holds is None else table,
        drop=_judge_drop(s, point, p),
        last_live_at=point.ts,
    )


def _judge_drop(s: RoomRules, point: Sample, p: Policy) -> Hold:
    """FAST_DROP: the highest filtered value of the last drop_window_s minus the current."""
    t = point.temperature_c
    fall = fallen_by(s, t)
    if fall < p.drop_c:
        return IDLE
    worst = t if s.drop.worst is None else min(s.drop.worst, t)
    return Hold(active=True, since=s.drop.since or point.ts, worst=worst)


def fallen_by(s: RoomRules, t: float) -> float:
    """How far `t`, the newest filtered value, is below the highest of drop_window_s."""
    return max(s.peaks[0].high_c, t) - t if s.peaks else 0.0


def drop_peaks(
    peaks: tuple[SeriesPoint, ...], series: tuple[SeriesPoint, ...], ts: datetime, p: Policy
) -> tuple[SeriesPoint, ...]:
    """The drop window's points (at `ts`, `series`' newest) that are higher than every later
    one, oldest and so highest first: FAST_DROP reads the window's highest here on every
    reading instead of scanning up to MAX_SERIES_POINTS of them."""
    newest = series[-1]
    oldest = max(ts - timedelta(seconds=p.drop_window_s), series[0].ts)
    if peaks and peaks[-1].ts > newest.ts:  # later points dropped: the hub's clock went back
        rebuilt: tuple[SeriesPoint, ...] = ()
        for point in _between(series, oldest, ts):
            rebuilt = _push_peak(rebuilt, point)
        return rebuilt
    kept = peaks[bisect_left(peaks, oldest, key=_point_ts) :]
    if kept and kept[-1].ts == newest.ts:
        kept = kept[:-1]  # the newest point absorbed this reading: it is replaced
    return _push_peak(kept, newest)


def _push_peak(peaks: tuple[SeriesPoint, ...], point: SeriesPoint) -> tuple[SeriesPoint, ...]:
    """Add the newest point; those no higher than it can no longer be the window's highest."""
    keep = len(peaks)
    while keep and peaks[keep - 1].high_c <= point.high_c:
        keep -= 1
    return (*peaks[:keep], point)


def _between(
    series: tuple[SeriesPoint, ...], oldest: datetime, newest: datetime
) -> tuple[SeriesPoint, ...]:
    """The points from `oldest` to `newest`, both included. The series is in time order
    (each point is appended after those later than it are dropped), so two bisections
    find them: the window holds up to MAX_SERIES_POINTS and this runs on every reading."""
    return series[
        bisect_left(series, oldest, key=_point_ts) : bisect_right(series, newest, key=_point_ts)
    ]


def minutes_to_cold(s: RoomRules, p: Policy) -> float | None:
    """Minutes until cold_below_c at the least-squares slope of the last slope_window_s.

    None unless the room is above the threshold, falling, with at least three points,
    and would get there within prediction_horizon_min (beyond that it is not news).
    """
    now = s.filtered
    if now is None or now.temperature_c <= p.cold_below_c:
        return None
    window = _between(s.series, now.ts - timedelta(seconds=p.slope_window_s), now.ts)
    points = [(seconds_between(q.ts, now.ts) / 60.0, q.temperature_c) for q in window]
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread  # °C per minute
    if slope >= 0:
        return None
    minutes = (now.temperature_c - p.cold_below_c) / -slope
    return round(minutes, 1) if minutes <= p.prediction_horizon_min else None


def _median(values: list[float]) -> float:
    """statistics.median, quicker for the window's usual three values (every reading)."""
    return sorted(values)[1] if len(values) == 3 else median(values)


_point_ts: Callable[[SeriesPoint], datetime] = attrgetter("ts")
