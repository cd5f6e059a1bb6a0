"""Room rules: from readings, faults and statuses to the conditions active in a room now.

Pure on purpose: the caller passes the previous state, one event, the policy and the time,
and gets back the next state and every condition active now. Nothing here reads a clock,
logs or does I/O, so a whole night replays in a test in milliseconds, and a silent sensor
is a decision (NO_DATA) rather than the absence of one.

Two clocks meet here, and only the hub's times the room. How long a live reading's
condition has lasted ("cold for 5 min") runs on the hub's clock (`received_at`): a Pi
without a battery-backed clock may stamp readings hours behind or ahead until NTP answers,
and some publishers stamp whole seconds, and neither may delay or suppress a page. The
device's stamps place history: a backlog arriving while the room is silent keeps its real
spacing in the filter and the drop window, moved onto the hub's clock by the estimated
offset. Whether a reading is live or a replay, and that estimate, live in
hub/ingest/device_clock.py.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter, itemgetter
from statistics import median
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from hub.ingest.device_clock import BootMark, DeviceClock, is_live, mark_boot, track_clock
from hub.monitor.conditions import Condition, Finding
from hub.monitor.frozen import replace

if TYPE_CHECKING:
    from mqttlink.rules_settings import RulesSettings

PLAUSIBLE_C: Final = (-10.0, 60.0)
PLAUSIBLE_PCT: Final = (0.0, 100.0)
MEDIAN_OF: Final = 3
# Bounds on the state, whatever the reading rate (a simulated sensor may read every 0.1 s).
MAX_SERIES_POINTS: Final = 360
MAX_SLOTS: Final = 720


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


# --- policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """Every threshold resolved to a number, so the rules never look at presets."""

    cold_below_c: float
    cold_clear_c: float
    cold_for_s: float
    cool_below_c: float
    cool_for_s: float
    drop_c: float
    drop_window_s: float
    warm_above_c: float
    warm_for_s: float
    hot_above_c: float
    hot_for_s: float
    humidity_low_pct: float
    humidity_high_pct: float
    humidity_for_s: float
    stale_after_s: float
    max_jump_c: float
    replay_after_s: float
    clock_skew_s: float
    suspect_error_ratio: float
    stuck_for_s: float
    # Not settings: the shape of the rules rather than a parent's preference.
    hot_clear_margin_c: float = 0.5
    slope_window_s: float = 600.0
    suspect_window_s: float = 1800.0
    suspect_min_slots: int = 6
    prediction_horizon_min: float = 180.0

    @property
    def memory_s(self) -> float:
        """How far back the rules look: replaying this much history rebuilds the state."""
        return max(
            self.drop_window_s,
            self.slope_window_s,
            self.suspect_window_s,
            self.stuck_for_s,
            self.cold_for_s,
            self.cool_for_s,
            self.warm_for_s,
            self.hot_for_s,
            self.humidity_for_s,
        )

    def __post_init__(self) -> None:
        if self.cold_clear_c < self.cold_below_c:
            raise ValueError("cold_clear_c must not be below cold_below_c")
        if self.humidity_low_pct >= self.humidity_high_pct:
            raise ValueError("humidity_low_pct must be below humidity_high_pct")
        if self.max_jump_c <= 0 or self.stale_after_s <= 0:
            raise ValueError("max_jump_c and stale_after_s must be positive")

    @classmethod
    def from_settings(cls, rules: RulesSettings) -> Policy:
        return cls(
            cold_below_c=rules.effective("cold_below_c"),
            cold_clear_c=rules.effective("cold_clear_c"),
            cold_for_s=rules.cold_for_s,
            cool_below_c=rules.effective("cool_below_c"),
            cool_for_s=rules.cool_for_s,
            drop_c=rules.drop_c,
            drop_window_s=rules.drop_window_s,
            warm_above_c=rules.effective("warm_above_c"),
            warm_for_s=rules.warm_for_s,
            hot_above_c=rules.hot_above_c,
            hot_for_s=rules.hot_for_s,
            humidity_low_pct=rules.humidity_low_pct,
            humidity_high_pct=rules.humidity_high_pct,
            humidity_for_s=rules.humidity_for_s,
            stale_after_s=rules.stale_after_s,
            max_jump_c=rules.max_jump_c,
            replay_after_s=rules.replay_after_s,
            clock_skew_s=rules.clock_skew_s,
            suspect_error_ratio=rules.suspect_error_ratio,
            stuck_for_s=rules.stuck_for_s,
        )


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
        _aware(self.ts, "ts")
        _aware(self.received_at, "received_at")


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
        _aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """The firmware's retained status or last will; `at` is the hub's time of arrival."""

    at: datetime
    online: bool

    def __post_init__(self) -> None:
        _aware(self.at, "at")


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


HELD: Final = (
    Condition.COLD,
    Condition.COOL,
    Condition.WARM,
    Condition.HOT,
    Condition.HUMIDITY,
)
_no_holds: Final[Mapping[Condition, Hold]] = MappingProxyType({c: Hold() for c in HELD})


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
    last_live_at: datetime | None = None  # last live accepted reading; None restarts holds
    # Held temperature/humidity conditions, keyed by the conditions in HELD.
    holds: Mapping[Condition, Hold] = field(default_factory=lambda: _no_holds)
    drop: Hold = Hold()
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
    run: StuckRun | None = None
    suspect_since: datetime | None = None

    @classmethod
    def empty(cls, room: str, since: datetime | None = None) -> RoomRules:
        """A room not heard from yet; NO_DATA counts from `since`, else from the first step."""
        return cls(room=room, watching_since=since)

    @property
    def filtered_temperature(self) -> float | None:
        return None if self.filtered is None else self.filtered.temperature_c


# --- the held conditions, in one table ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldRule:
    """When a held condition starts and when it may end; each must last `hold_s`."""

    starts: Callable[[float], bool]
    ends: Callable[[float], bool]
    hold_s: float
    badness: Callable[[float], float]  # larger is further into the condition, for `worst`
    on_humidity: bool = False


def held_rules(p: Policy) -> dict[Condition, HeldRule]:
    """COLD, COOL, WARM, HOT and HUMIDITY, each with its own hysteresis."""

    def outside(h: float) -> float:
        return max(p.humidity_low_pct - h, h - p.humidity_high_pct)

    def colder(t: float) -> float:
        return -t

    def warmer(t: float) -> float:
        return t

    return {
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


def _advance(hold: Hold, rule: HeldRule, value: float, ts: datetime, restart: bool) -> Hold:
    """One live filtered value: flip the condition once the opposite stretch lasted hold_s.

    `ts` is the hub's time of arrival. `restart` means continuity was lost (a gap in live
    readings, or the hub's own clock went back): a stretch in progress starts again, an
    active condition stays active. The device's clock plays no part, so no error of it
    can start, stretch or cut short a stretch.
    """
    if restart and not hold.active:
        hold = Hold()
    flipping = rule.ends(value) if hold.active else rule.starts(value)
    if not hold.active and not flipping:
        return Hold()
    worst = hold.worst
    if worst is None or rule.badness(value) > rule.badness(worst):
        worst = value
    if not flipping:
        return replace(hold, pending_since=None, worst=worst)
    pending = ts if restart or hold.pending_since is None else hold.pending_since
    if _seconds(ts, pending) < rule.hold_s:
        return replace(hold, pending_since=pending, worst=worst)
    if hold.active:
        return Hold()
    return Hold(active=True, since=pending, worst=worst)


# --- the step ---------------------------------------------------------------------------


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
    _aware(now, "now")
    if state.watching_since is None:
        state = replace(state, watching_since=now)
    if isinstance(event, ReadingSeen):
        state = _on_reading(state, event, policy)
    elif isinstance(event, FaultSeen):
        state = _on_fault(state, event, policy, now)
    elif isinstance(event, StatusSeen):
        state = _on_status(state, event)
    state = _judge_silence(state, policy, now)
    return state, findings(state, policy, now)


def _on_reading(s: RoomRules, r: ReadingSeen, p: Policy) -> RoomRules:
    """Replays update history only; live readings may also change conditions.

    A live reading counts at the hub's time of its arrival; a replay (a backlog, not the
    room now: see hub/ingest/device_clock.py) at its device time moved onto the hub's clock.
    """
    s = _judge_clock(s, r, p)
    live = is_live(s.clock, s.boots, r, p)
    s = replace(s, boots=mark_boot(s.boots, r, live))
    ts = r.received_at if live else r.ts + timedelta(seconds=s.clock.shift_s)
    if not live:
        s = replace(s, last_replay_at=r.received_at)
        if _hearing_live(s, r, p) or _behind_filter(s, ts, r):
            # History only: live readings say how the room is now, and a replay of another
            # boot, its clock unknown, could land anywhere on this one's.
            return s
    t, h = r.temperature_c, r.humidity_pct
    plausible = PLAUSIBLE_C[0] <= t <= PLAUSIBLE_C[1] and PLAUSIBLE_PCT[0] <= h <= PLAUSIBLE_PCT[1]
    s = _count_slot(s, ts, failed=not plausible, p=p)
    if not plausible:
        return _judge_sensor(s, ts, p) if live else s
    raw = Sample(ts, t, h)
    s = _track_run(s, raw)
    if live:
        s = _judge_data(s, r)
    s, accepted = _filter(s, raw, p)
    if r.boot_id is not None and r.seq is not None:
        s = replace(s, newest_seq=(r.boot_id, r.seq))
    for point in accepted:
        s = replace(s, filtered=point, series=_extend_series(s.series, point, p))
        if live:
            s = _judge_temperature(s, point, p)
    return _judge_sensor(s, ts, p) if live else s


def _hearing_live(s: RoomRules, r: ReadingSeen, p: Policy) -> bool:
    """A valid live reading arrived within stale_after_s: the room is being heard now."""
    return s.last_data_at is not None and _seconds(r.received_at, s.last_data_at) <= p.stale_after_s


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
    s = _count_slot(s, f.at, failed=True, p=p)
    live = _seconds(now, f.at) <= p.replay_after_s
    return _judge_sensor(s, f.at, p) if live else s


def _on_status(s: RoomRules, status: StatusSeen) -> RoomRules:
    """OFFLINE starts with the last will; it ends in _judge_data, not here."""
    if not status.online:
        return replace(s, offline_since=s.offline_since or status.at, online_at=None)
    if s.offline_since is not None:
        return replace(s, online_at=status.at)
    return s


# --- filtering ----------------------------------------------------------------------------


def _filter(s: RoomRules, raw: Sample, p: Policy) -> tuple[RoomRules, list[Sample]]:
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
                median(w.temperature_c for w in window),
                median(w.humidity_pct for w in window),
            )
        )
    return replace(s, window=window, jump=None, newest_ts=raw.ts), accepted


def _extend_series(
    series: tuple[SeriesPoint, ...], point: Sample, p: Policy
) -> tuple[SeriesPoint, ...]:
    """Keep the filtered temperatures of the drop/slope window, at most MAX_SERIES_POINTS.

    Readings closer together than span/MAX_SERIES_POINTS share a point that remembers
    their highest value, so a fast sensor cannot hide a fall or grow the state.
    """
    span = max(p.drop_window_s, p.slope_window_s)
    kept = _between(series, point.ts - timedelta(seconds=span), point.ts)
    t = point.temperature_c
    if kept and _seconds(point.ts, kept[-1].ts) < span / MAX_SERIES_POINTS:
        last = kept[-1]
        kept = (*kept[:-1], SeriesPoint(last.ts, t, max(last.high_c, t)))
    else:
        kept = (*kept, SeriesPoint(point.ts, t, t))
    return kept[-MAX_SERIES_POINTS:]


# --- temperature and humidity ---------------------------------------------------------------


def _judge_temperature(s: RoomRules, point: Sample, p: Policy) -> RoomRules:
    """The held conditions and FAST_DROP, on one live filtered value (`point.ts` is the
    hub's time of arrival). Two readings may arrive at one instant: a gap of zero goes on."""
    gap = None if s.last_live_at is None else _seconds(point.ts, s.last_live_at)
    restart = gap is None or gap < 0 or gap > p.stale_after_s
    holds = {
        condition: _advance(
            s.holds[condition],
            rule,
            point.humidity_pct if rule.on_humidity else point.temperature_c,
            point.ts,
            restart,
        )
        for condition, rule in held_rules(p).items()
    }
    return replace(
        s,
        holds=MappingProxyType(holds),
        drop=_judge_drop(s, point, p),
        last_live_at=point.ts,
    )


def _judge_drop(s: RoomRules, point: Sample, p: Policy) -> Hold:
    """FAST_DROP: the highest filtered value of the last drop_window_s minus the current."""
    t = point.temperature_c
    fall = _fall(s.series, point.ts, t, p)
    if fall < p.drop_c:
        return Hold()
    worst = t if s.drop.worst is None else min(s.drop.worst, t)
    return Hold(active=True, since=s.drop.since or point.ts, worst=worst)


def _fall(series: tuple[SeriesPoint, ...], ts: datetime, t: float, p: Policy) -> float:
    window = _between(series, ts - timedelta(seconds=p.drop_window_s), ts)
    return max(map(_point_high, window), default=t) - t


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
    points = [(_seconds(q.ts, now.ts) / 60.0, q.temperature_c) for q in window]
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


# --- data arriving, the device clock, and the sensor -------------------------------------------


def _judge_data(s: RoomRules, r: ReadingSeen) -> RoomRules:
    """A valid live reading ends NO_DATA, and OFFLINE once the status said online first."""
    last = r.received_at if s.last_data_at is None else max(s.last_data_at, r.received_at)
    s = replace(s, last_data_at=last, no_data_since=None)
    if s.online_at is not None and r.received_at >= s.online_at:
        s = replace(s, offline_since=None, online_at=None)
    return s


def _judge_silence(s: RoomRules, p: Policy, now: datetime) -> RoomRules:
    """NO_DATA after stale_after_s without a valid live reading; only a reading ends it."""
    if s.no_data_since is not None:
        return s
    reference = s.last_data_at or s.watching_since
    if reference is not None and _seconds(now, reference) > p.stale_after_s:
        return replace(s, no_data_since=reference)
    return s


def silence_due_at(s: RoomRules, p: Policy) -> datetime | None:
    """When NO_DATA begins unless a valid live reading comes first (`step` sees it on
    the first tick after this moment); None once it has begun."""
    if s.no_data_since is not None:
        return None
    reference = s.last_data_at or s.watching_since
    return None if reference is None else reference + timedelta(seconds=p.stale_after_s)


def _judge_clock(s: RoomRules, r: ReadingSeen, p: Policy) -> RoomRules:
    """Track the device clock on every reading; CLOCK_SKEW while it is off by > clock_skew_s.

    The estimate places replayed history and says CLOCK_SKEW; it never times a live
    reading, so a clock that jumps or is misjudged cannot move a stretch in progress.
    """
    clock = track_clock(s.clock, r, p)
    if abs(clock.offset_s) > p.clock_skew_s:
        skew_since, skew_s = s.skew_since or r.received_at, -clock.offset_s
    else:
        skew_since, skew_s = None, 0.0
    return replace(s, clock=clock, skew_since=skew_since, skew_s=skew_s)


def _count_slot(s: RoomRules, ts: datetime, *, failed: bool, p: Policy) -> RoomRules:
    """Add a slot, kept in device-time order (a replayed one slots in where it belongs), and
    drop those older than the window: a bisection, not a Python-level pass over up to
    MAX_SLOTS slots for every reading."""
    slots = list(s.slots)
    insort(slots, (ts, failed), key=_slot_ts)
    cutoff = slots[-1][0] - timedelta(seconds=p.suspect_window_s)
    first = max(bisect_left(slots, cutoff, key=_slot_ts), len(slots) - MAX_SLOTS)
    return replace(s, slots=tuple(slots[first:]))


_point_ts: Callable[[SeriesPoint], datetime] = attrgetter("ts")
_point_high: Callable[[SeriesPoint], float] = attrgetter("high_c")
_slot_ts: Callable[[tuple[datetime, bool]], datetime] = itemgetter(0)
_slot_failed: Callable[[tuple[datetime, bool]], bool] = itemgetter(1)


def _track_run(s: RoomRules, raw: Sample) -> RoomRules:
    run = s.run
    if run and (run.temperature_c, run.humidity_pct) == (raw.temperature_c, raw.humidity_pct):
        return replace(s, run=replace(run, last_ts=max(run.last_ts, raw.ts)))
    return replace(s, run=StuckRun(raw.ts, raw.ts, raw.temperature_c, raw.humidity_pct))


def error_ratio(s: RoomRules) -> float:
    """Failed slots (faults and impossible readings) among all slots of the window (summed
    by map/itemgetter in C: up to MAX_SLOTS of them on every reading)."""
    return sum(map(_slot_failed, s.slots)) / len(s.slots) if s.slots else 0.0


def _stuck(s: RoomRules, p: Policy) -> bool:
    return s.run is not None and _seconds(s.run.last_ts, s.run.first_ts) >= p.stuck_for_s


def _judge_sensor(s: RoomRules, ts: datetime, p: Policy) -> RoomRules:
    """SENSOR_SUSPECT: too many failed slots, or readings frozen for stuck_for_s.

    Only a warning: what a flaky sensor reports still goes through the filter like any
    reading, and a suspect sensor never raises COLD by being suspect.
    """
    judged = len(s.slots) >= p.suspect_min_slots
    flaky = judged and error_ratio(s) >= p.suspect_error_ratio
    stuck = _stuck(s, p)
    if not (flaky or stuck):
        # Too few slots (after a silence, say) is no evidence of recovery.
        return replace(s, suspect_since=None) if judged and s.suspect_since is not None else s
    if s.suspect_since is not None:
        return s
    since = s.run.first_ts if stuck and s.run is not None else ts
    return replace(s, suspect_since=since)


# --- findings --------------------------------------------------------------------------------


def findings(s: RoomRules, p: Policy, now: datetime) -> dict[Condition, Finding]:
    """Every condition active now, from the state alone (the step already decided)."""
    out: dict[Condition, Finding] = {}
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
        fall = _fall(s.series, f.ts, f.temperature_c, p)
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
            value=max(0.0, _seconds(now, s.no_data_since)),
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
            value=max(0.0, _seconds(now, quiet_from)),
        )

    if s.suspect_since is not None:
        out[Condition.SENSOR_SUSPECT] = Finding(
            room,
            Condition.SENSOR_SUSPECT,
            s.suspect_since,
            value=error_ratio(s),
            threshold=p.suspect_error_ratio,
            detail="readings unchanged" if _stuck(s, p) else "reads failing",
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
