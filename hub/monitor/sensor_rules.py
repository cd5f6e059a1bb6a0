"""The rules on data arriving at all, the device clock, and the sensor's health."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import itemgetter

from hub.monitor.device_clock import track_clock
from hub.monitor.frozen import replace
from hub.monitor.policy import Policy
from hub.monitor.rule_state import (
    MAX_SLOTS,
    ReadingSeen,
    RoomRules,
    Sample,
    StuckRun,
    seconds_between,
)


def judge_data(s: RoomRules, r: ReadingSeen) -> RoomRules:
    """A valid live reading ends NO_DATA, and OFFLINE once the status said online first."""
    last = r.received_at if s.last_data_at is None else max(s.last_data_at, r.received_at)
    s = replace(s, last_data_at=last, no_data_since=None)
    if s.online_at is not None and r.received_at >= s.online_at:
        s = replace(s, offline_since=None, online_at=None)
    return s


def judge_silence(s: RoomRules, p: Policy, now: datetime) -> RoomRules:
    """NO_DATA after stale_after_s without a valid live reading; only a reading ends it."""
    if s.no_data_since is not None:
        return s
    reference = s.last_data_at or s.watching_since
    if reference is not None and seconds_between(now, reference) > p.stale_after_s:
        return replace(s, no_data_since=reference)
    return s


def silence_due_at(s: RoomRules, p: Policy) -> datetime | None:
    """When NO_DATA begins unless a valid live reading comes first (`step` sees it on
    the first tick after this moment); None once it has begun."""
    if s.no_data_since is not None:
        return None
    reference = s.last_data_at or s.watching_since
    return None if reference is None else reference + timedelta(seconds=p.stale_after_s)


def judge_clock(s: RoomRules, r: ReadingSeen, p: Policy) -> RoomRules:
    """Track the device clock on every reading; CLOCK_SKEW while it is off by > clock_skew_s.

    The estimate places replayed history and says CLOCK_SKEW; it never times a live
    reading, so a clock that jumps or is misjudged cannot move a stretch in progress.
    """
    clock = track_clock(s.clock, r, p)
    if abs(clock.offset_s) > p.clock_skew_s:
        skew_since, skew_s = s.skew_since or r.received_at, -clock.offset_s
    else:
        skew_since, skew_s = None, 0.0
    if clock is s.clock and skew_since == s.skew_since and skew_s == s.skew_s:
        return s  # the usual reading: the clock agrees as before
    return replace(s, clock=clock, skew_since=skew_since, skew_s=skew_s)


def count_slot(s: RoomRules, ts: datetime, *, failed: bool, p: Policy) -> RoomRules:
    """Add a slot, kept in device-time order (a replayed one slots in where it belongs), and
    drop those older than the window: bisections and a running count of the failed ones,
    not a Python-level pass over up to MAX_SLOTS slots for every reading."""
    slots = s.slots
    if not slots or ts >= slots[-1][0]:
        slots = (*slots, (ts, failed))  # the usual reading: the newest
    else:
        ordered = list(slots)
        insort(ordered, (ts, failed), key=_slot_ts)
        slots = tuple(ordered)
    cutoff = slots[-1][0] - timedelta(seconds=p.suspect_window_s)
    first = max(bisect_left(slots, cutoff, key=_slot_ts), len(slots) - MAX_SLOTS)
    dropped = sum(map(_slot_failed, slots[:first])) if first else 0
    return replace(s, slots=slots[first:], failed_slots=s.failed_slots + failed - dropped)


_slot_ts: Callable[[tuple[datetime, bool]], datetime] = itemgetter(0)
_slot_failed: Callable[[tuple[datetime, bool]], bool] = itemgetter(1)


def track_run(s: RoomRules, raw: Sample) -> RoomRules:
    run = s.run
    if run and (run.temperature_c, run.humidity_pct) == (raw.temperature_c, raw.humidity_pct):
        return replace(s, run=replace(run, last_ts=max(run.last_ts, raw.ts)))
    return replace(s, run=StuckRun(raw.ts, raw.ts, raw.temperature_c, raw.humidity_pct))


def error_ratio(s: RoomRules) -> float:
    """Failed slots (faults and impossible readings) among all slots of the window."""
    return s.failed_slots / len(s.slots) if s.slots else 0.0


def is_stuck(s: RoomRules, p: Policy) -> bool:
    return s.run is not None and seconds_between(s.run.last_ts, s.run.first_ts) >= p.stuck_for_s


def judge_sensor(s: RoomRules, ts: datetime, p: Policy) -> RoomRules:
    """SENSOR_SUSPECT: too many failed slots, or readings frozen for stuck_for_s.

    Only a warning: what a flaky sensor reports still goes through the filter like any
    reading, and a suspect sensor never raises COLD by being suspect.
    """
    judged = len(s.slots) >= p.suspect_min_slots
    flaky = judged and error_ratio(s) >= p.suspect_error_ratio
    stuck = is_stuck(s, p)
    if not (flaky or stuck):
        # Too few slots (after a silence, say) is no evidence of recovery.
        return replace(s, suspect_since=None) if judged and s.suspect_since is not None else s
    if s.suspect_since is not None:
        return s
    since = s.run.first_ts if stuck and s.run is not None else ts
    return replace(s, suspect_since=since)
