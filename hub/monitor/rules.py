"""The room rules' step: one event and the time in, the next state and the active conditions out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from hub.conditions import Condition, Finding
from hub.monitor.device_clock import is_live, mark_boot
from hub.monitor.findings import findings
from hub.monitor.frozen import owned_copy, replace
from hub.monitor.policy import Policy
from hub.monitor.rule_state import (
    MAX_SERIES_POINTS,
    MAX_SLOTS,
    MEDIAN_OF,
    PLAUSIBLE_C,
    PLAUSIBLE_PCT,
    Event,
    FaultSeen,
    ReadingSeen,
    RoomRules,
    Sample,
    StatusSeen,
    aware,
    seconds_between,
)
from hub.monitor.sensor_rules import (
    count_slot,
    error_ratio,
    judge_clock,
    judge_data,
    judge_sensor,
    judge_silence,
    silence_due_at,
    track_run,
)
from hub.monitor.temperature_rules import (
    drop_peaks,
    extend_series,
    filter_reading,
    judge_temperature,
    minutes_to_cold,
)

# The rules' public face: callers import these from here, wherever they are defined.
__all__ = [
    "MAX_SERIES_POINTS",
    "MAX_SLOTS",
    "MEDIAN_OF",
    "Event",
    "FaultSeen",
    "Policy",
    "ReadingSeen",
    "RoomRules",
    "StatusSeen",
    "error_ratio",
    "findings",
    "minutes_to_cold",
    "replay",
    "silence_due_at",
    "step",
]


def replay(
    name: str, readings: Iterable[ReadingSeen], policy: Policy, start: datetime
) -> RoomRules:
    """The rules' memory rebuilt after a restart from the stored readings, oldest first,
    each applied at the time it arrived. Give them their boot and seq: without them a
    device clock that is off is judged from delays alone, and a cold stretch under way can
    lose its start."""
    state = RoomRules.empty(name, start)
    for reading in readings:
        state, _ = step(state, reading, policy, reading.received_at)
    return state


def step(
    state: RoomRules, event: Event | None, policy: Policy, now: datetime
) -> tuple[RoomRules, dict[Condition, Finding]]:
    """Apply one event (None is a tick: time passing) and return every condition active now."""
    aware(now, "now")
    with owned_copy(state) as state:  # the caller's state is never changed
        if state.watching_since is None:
            state = replace(state, watching_since=now)
        if isinstance(event, ReadingSeen):
            state = _on_reading(state, event, policy)
        elif isinstance(event, FaultSeen):
            state = _on_fault(state, event, policy, now)
        elif isinstance(event, StatusSeen):
            state = _on_status(state, event)
        state = judge_silence(state, policy, now)
    return state, findings(state, policy, now)


def _on_reading(s: RoomRules, r: ReadingSeen, p: Policy) -> RoomRules:
    """Replays update history only; live readings may also change conditions.

    A live reading counts at the hub's time of its arrival; a replay (a backlog, not the
    room now: see hub/monitor/device_clock.py) at its device time moved onto the hub's clock.
    """
    s = judge_clock(s, r, p)
    live = is_live(s.clock, s.boots, r, p)
    boots = mark_boot(s.boots, r, live)
    if boots is not s.boots:
        s = replace(s, boots=boots)
    ts = r.received_at if live else r.ts + timedelta(seconds=s.clock.shift_s)
    if not live:
        s = replace(s, last_replay_at=r.received_at)
        if _hearing_live(s, r, p) or _behind_filter(s, ts, r):
            # History only: live readings say how the room is now, and a replay of another
            # boot, its clock unknown, could land anywhere on this one's.
            return s
    t, h = r.temperature_c, r.humidity_pct
    plausible = PLAUSIBLE_C[0] <= t <= PLAUSIBLE_C[1] and PLAUSIBLE_PCT[0] <= h <= PLAUSIBLE_PCT[1]
    s = count_slot(s, ts, failed=not plausible, p=p)
    if not plausible:
        return judge_sensor(s, ts, p) if live else s
    raw = Sample(ts, t, h)
    s = track_run(s, raw)
    if live:
        s = judge_data(s, r)
    s, accepted = filter_reading(s, raw, p)
    if r.boot_id is not None and r.seq is not None:
        s = replace(s, newest_seq=(r.boot_id, r.seq))
    for point in accepted:
        series = extend_series(s.series, point, p)
        peaks = drop_peaks(s.peaks, series, point.ts, p)
        s = replace(s, filtered=point, series=series, peaks=peaks)
        if live:
            s = judge_temperature(s, point, p)
    return judge_sensor(s, ts, p) if live else s


def _hearing_live(s: RoomRules, r: ReadingSeen, p: Policy) -> bool:
    """A valid live reading arrived within stale_after_s: the room is being heard now."""
    return (
        s.last_data_at is not None
        and seconds_between(r.received_at, s.last_data_at) <= p.stale_after_s
    )


def _behind_filter(s: RoomRules, ts: datetime, r: ReadingSeen) -> bool:
    """The filter has moved past this replay: it is older, or as old and not a later seq
    of the same boot (whole-second stamps give two readings one stamp)."""
    if s.newest_ts is None or ts > s.newest_ts:
        return False
    if ts < s.newest_ts or s.newest_seq is None or r.seq is None:
        return True
    boot, seq = s.newest_seq
    return r.boot_id != boot or r.seq <= seq


def _on_fault(s: RoomRules, f: FaultSeen, p: Policy, now: datetime) -> RoomRules:
    s = count_slot(s, f.at, failed=True, p=p)
    live = seconds_between(now, f.at) <= p.replay_after_s
    return judge_sensor(s, f.at, p) if live else s


def _on_status(s: RoomRules, status: StatusSeen) -> RoomRules:
    """OFFLINE starts with the last will; it ends in judge_data, not here."""
    if not status.online:
        return replace(s, offline_since=s.offline_since or status.at, online_at=None)
    if s.offline_since is not None:
        return replace(s, online_at=status.at)
    return s
