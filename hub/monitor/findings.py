"""Every condition active in a room now, read from the rules' state alone."""

from __future__ import annotations

from datetime import datetime

from hub.conditions import Condition, Finding
from hub.monitor.policy import Policy
from hub.monitor.rule_state import HELD, NO_HOLDS, RoomRules, seconds_between
from hub.monitor.sensor_rules import error_ratio, is_stuck
from hub.monitor.temperature_rules import fallen_by, minutes_to_cold


def findings(s: RoomRules, p: Policy, now: datetime) -> dict[Condition, Finding]:
    """Every condition active now, from the state alone (the step already decided)."""
    out: dict[Condition, Finding] = {}
    if s.holds is NO_HOLDS and not s.drop.active and _nothing_else(s):
        return out  # the usual reading in a room that is fine: nothing to build
    room, f = s.room, s.filtered
    # Only COOL and FAST_DROP carry the prediction, and its regression walks the series.
    cooling = s.holds[Condition.COOL].active and f is not None
    prediction = minutes_to_cold(s, p) if cooling or s.drop.active else None
    thresholds = {
        Condition.COLD: p.cold_below_c,
        Condition.COOL: p.cool_below_c,
        Condition.WARM: p.warm_above_c,
        Condition.HOT: p.hot_above_c,
    }
    for condition in HELD:
        hold = s.holds[condition]
        if not hold.active or hold.since is None or f is None:
            continue
        if condition is Condition.HUMIDITY:
            value = f.humidity_pct
            low = value < p.humidity_low_pct
            threshold = p.humidity_low_pct if low else p.humidity_high_pct
        else:
            value, threshold = f.temperature_c, thresholds[condition]
        out[condition] = Finding(
            room,
            condition,
            hold.since,
            value=value,
            threshold=threshold,
            worst=hold.worst,
            minutes_to_cold=prediction if condition is Condition.COOL else None,
        )
    if Condition.COLD in out:
        out.pop(Condition.COOL, None)
    if Condition.HOT in out:
        out.pop(Condition.WARM, None)

    if s.drop.active and s.drop.since is not None and f is not None:
        fall = fallen_by(s, f.temperature_c)
        out[Condition.FAST_DROP] = Finding(
            room,
            Condition.FAST_DROP,
            s.drop.since,
            value=f.temperature_c,
            threshold=p.cold_below_c,
            worst=s.drop.worst,
            minutes_to_cold=prediction,
            detail=f"fell {fall:.1f} °C within {p.drop_window_s / 60:g} min",
        )

    if s.no_data_since is not None:
        replays = s.last_replay_at is not None and s.last_replay_at > s.no_data_since
        out[Condition.NO_DATA] = Finding(
            room,
            Condition.NO_DATA,
            s.no_data_since,
            value=max(0.0, seconds_between(now, s.no_data_since)),
            threshold=p.stale_after_s,
            detail="only old readings arrive (a backlog, or the device clock is behind)"
            if replays
            else None,
        )

    if s.offline_since is not None:
        quiet_from = s.last_data_at or s.offline_since
        out[Condition.OFFLINE] = Finding(
            room,
            Condition.OFFLINE,
            s.offline_since,
            value=max(0.0, seconds_between(now, quiet_from)),
        )

    if s.suspect_since is not None:
        out[Condition.SENSOR_SUSPECT] = Finding(
            room,
            Condition.SENSOR_SUSPECT,
            s.suspect_since,
            value=error_ratio(s),
            threshold=p.suspect_error_ratio,
            detail="readings unchanged" if is_stuck(s, p) else "reads failing",
        )

    if s.skew_since is not None:
        # value: seconds the device clock is ahead of the hub's, negative when behind.
        side = "ahead of" if s.skew_s > 0 else "behind"
        out[Condition.CLOCK_SKEW] = Finding(
            room,
            Condition.CLOCK_SKEW,
            s.skew_since,
            value=s.skew_s,
            threshold=p.clock_skew_s,
            detail=f"device clock {abs(s.skew_s):.0f} s {side} the hub's",
        )
    return out


def _nothing_else(s: RoomRules) -> bool:
    """None of the conditions below the held ones and FAST_DROP has begun."""
    return (
        s.no_data_since is None
        and s.offline_since is None
        and s.suspect_since is None
        and s.skew_since is None
    )
