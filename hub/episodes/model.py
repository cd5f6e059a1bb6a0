"""The parent's episode log, as pure rules: what an episode is, when one is valid, what the
room was like when it began, which signs a doctor should hear about, and the patterns (the
doctor card that grades those signs is hub/episodes/doctor_card.py).

No clock and no I/O: every function takes the time and the data it needs, so the rules are
tested without a database or HTTP. The words are neutral: a diary of what the parent saw
next to what the monitor measured. Nothing here diagnoses, and nothing claims the room's
temperature causes an episode; a pattern is shown as a pattern, never as a cause.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, Literal, get_args

from contract.errors import NurseryError
from contract.topics import ContractError, check_name
from hub.monitor.comfort import COMFORT_BANDS, Comfort, ComfortBand

Limb = Literal["left_leg", "right_leg", "arms", "whole_body"]
LIMBS: Final[tuple[Limb, ...]] = get_args(Limb)
WakeState = Literal["asleep", "waking", "awake"]
WAKE_STATES: Final[tuple[WakeState, ...]] = get_args(WakeState)
Source = Literal["app", "button"]
Sign = Literal[
    "long", "whole_body", "not_alert", "floppy", "fever", "vomiting", "poor_feeding", "cluster"
]
SIGNS: Final[tuple[Sign, ...]] = get_args(Sign)

# A phone's clock may run a little ahead of the hub's; beyond this a time is "in the future".
CLOCK_SLACK: Final = timedelta(seconds=60)
# Typical episodes last seconds; guidance asks for evaluation of longer ones.
LONG_AFTER_S: Final = 60.0
# A body temperature at or above this counts as a fever in a baby.
FEVER_FROM_C: Final = 38.0
FEVER_RANGE_C: Final = (34.0, 43.0)
MAX_JERKS: Final = 1000
MAX_NOTES: Final = 2000
# An untimed episode is a moment; it occupies this much of the timeline for overlap checks.
UNTIMED_SPAN: Final = timedelta(seconds=1)
SNAPSHOT_WINDOW: Final = timedelta(hours=1)
# °C per hour at which the hour before onset counts as falling or rising.
TREND_STEADY_C_PER_H: Final = 0.5
LIMB_WORDS: Final[dict[Limb, str]] = {
    "left_leg": "left leg",
    "right_leg": "right leg",
    "arms": "arms",
    "whole_body": "whole body",
}
STATE_WORDS: Final[dict[WakeState, str]] = {
    "asleep": "asleep",
    "waking": "waking up",
    "awake": "awake",
}
BAND_WORDS: Final[dict[Comfort, str]] = {
    "cold": "cold",
    "cool": "cool",
    "comfortable": "comfortable",
    "warm": "warm",
    "hot": "hot",
    "unknown": "no reading",
}
PATTERN_CAVEAT: Final = (
    "A pattern is not a cause; discuss it with your pediatrician. These counts show when "
    "episodes were logged next to what the monitor measured, nothing more."
)
DIARY_NOTE: Final = "A diary of what you saw, for your pediatrician. It does not diagnose."


# --- the episode ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Details:
    """What the parent saw; every field may be filled in later (the Pi's button logs none)."""

    limbs: tuple[Limb, ...] = ()
    alert: bool | None = None  # alert and responsive during the episode; None: not said
    floppy: bool = False  # limp, no muscle tone: an emergency sign
    state: WakeState | None = None  # asleep, waking or awake when it started
    cluster: bool = False
    jerks: int | None = None
    fever: bool = False
    fever_c: float | None = None
    vomiting: bool = False
    poor_feeding: bool = False
    notes: str = ""

    @property
    def has_fever(self) -> bool:
        return self.fever or (self.fever_c is not None and self.fever_c >= FEVER_FROM_C)

    @property
    def is_cluster(self) -> bool:
        return self.cluster or (self.jerks is not None and self.jerks > 1)

    @property
    def missing(self) -> bool:
        """True until the parent has said at least which limbs moved."""
        return not self.limbs


@dataclass(frozen=True, slots=True)
class Timing:
    """When and where: a timed episode has a start and (once stopped) an end; an untimed
    one is a moment, for "it happened just now" or "I don't know how long"."""

    room: str
    started_at: datetime
    ended_at: datetime | None = None
    timed: bool = True

    @property
    def running(self) -> bool:
        return self.timed and self.ended_at is None

    @property
    def duration_s(self) -> float | None:
        """Seconds between two UTC instants: a DST change in between does not bend it."""
        if self.ended_at is None:
            return None
        return (self.ended_at.astimezone(UTC) - self.started_at.astimezone(UTC)).total_seconds()

    def span_end(self, now: datetime) -> datetime:
        """Where the episode ends on the timeline, for overlap checks."""
        if self.ended_at is not None:
            return self.ended_at
        if self.timed:  # still running: it covers everything up to now
            return max(now, self.started_at + UNTIMED_SPAN)
        return self.started_at + UNTIMED_SPAN


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The room around the onset, attached when the episode is logged."""

    reading_at: datetime | None  # the reading the onset values come from
    temperature_c: float | None
    humidity_pct: float | None
    lowest_c: float | None  # lowest in the hour before onset
    trend_c_per_h: float | None  # least-squares slope over the hour before
    minutes_below_cold: float | None  # in the hour before, below cold_below_c
    cold_below_c: float
    cold_alert_open: bool
    readings: int  # how many readings the hour before held

    @property
    def trend(self) -> Literal["falling", "steady", "rising"] | None:
        if self.trend_c_per_h is None:
            return None
        if self.trend_c_per_h <= -TREND_STEADY_C_PER_H:
            return "falling"
        if self.trend_c_per_h >= TREND_STEADY_C_PER_H:
            return "rising"
        return "steady"


@dataclass(frozen=True, slots=True)
class Episode:
    id: int
    timing: Timing
    details: Details
    snapshot: Snapshot | None
    source: Source
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def room(self) -> str:
        return self.timing.room

    @property
    def started_at(self) -> datetime:
        return self.timing.started_at

    @property
    def ended_at(self) -> datetime | None:
        return self.timing.ended_at

    @property
    def running(self) -> bool:
        return self.timing.running

    @property
    def duration_s(self) -> float | None:
        return self.timing.duration_s


# --- validation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, with a stable code a client can switch on."""

    field: str
    code: str
    message: str


class EpisodeInvalid(NurseryError, ValueError):
    """An episode that cannot be stored as given; nothing was changed."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def _utc(value: datetime, name: str, errors: list[FieldError]) -> datetime | None:
    if value.tzinfo is None or value.utcoffset() is None:
        errors.append(
            FieldError(
                name,
                "episode.naive_time",
                f"{name} needs a time zone offset, like 2026-11-23T02:10:00Z",
            )
        )
        return None
    return value.astimezone(UTC)


def check_timing(
    timing: Timing,
    now: datetime,
    others: Iterable[Episode],
    *,
    self_id: int | None = None,
    end_field: str = "ended_at",
) -> Timing:
    """The timing in UTC, or EpisodeInvalid naming each bad field.

    No time in the future (beyond a minute of clock slack), an end after the start, an
    untimed episode without an end, and no overlap with another episode in the same room.
    `end_field` is the name the caller's input used for the end (`duration_s` when the
    parent gave a duration).
    """
    errors: list[FieldError] = []
    try:
        check_name("room", timing.room)
    except ContractError as exc:
        errors.append(FieldError("room", "episode.bad_room", str(exc)))
    start = _utc(timing.started_at, "started_at", errors)
    end = None if timing.ended_at is None else _utc(timing.ended_at, end_field, errors)
    if start is not None and start > now + CLOCK_SLACK:
        errors.append(FieldError("started_at", "episode.future", "started_at is in the future"))
    if end is not None:
        if not timing.timed:
            errors.append(
                FieldError(end_field, "episode.untimed_end", "an untimed episode has no end")
            )
        elif start is not None and end <= start:
            errors.append(
                FieldError(end_field, "episode.end_before_start", "the end must be after the start")
            )
        elif end > now + CLOCK_SLACK:
            errors.append(FieldError(end_field, "episode.future", "the end is in the future"))
    if errors or start is None:
        raise EpisodeInvalid(errors)
    checked = Timing(timing.room, start, end, timing.timed)
    clash = _overlapping(checked, now, others, self_id)
    if clash is not None:
        other_end = clash.timing.span_end(now)
        name = "started_at" if clash.started_at <= start < other_end else end_field
        raise EpisodeInvalid(
            [
                FieldError(
                    name,
                    "episode.overlap",
                    f"overlaps another episode in {timing.room} (#{clash.id}); change the "
                    "time or edit that one",
                )
            ]
        )
    return checked


def _overlapping(
    timing: Timing, now: datetime, others: Iterable[Episode], self_id: int | None
) -> Episode | None:
    start, end = timing.started_at, timing.span_end(now)
    for other in others:
        if other.id == self_id or other.deleted_at is not None or other.room != timing.room:
            continue
        if start < other.timing.span_end(now) and other.started_at < end:
            return other
    return None


def check_details(details: Details) -> Details:
    """Details with their notes trimmed, or EpisodeInvalid naming each bad field."""
    errors: list[FieldError] = []
    unknown = [limb for limb in details.limbs if limb not in LIMBS]
    if unknown:
        errors.append(
            FieldError("limbs", "episode.bad_limb", f"limbs must be from {', '.join(LIMBS)}")
        )
    if details.state is not None and details.state not in WAKE_STATES:
        errors.append(
            FieldError("state", "episode.bad_state", f"state must be {', '.join(WAKE_STATES)}")
        )
    if details.jerks is not None:
        if not 1 <= details.jerks <= MAX_JERKS:
            errors.append(
                FieldError("jerks", "episode.bad_jerks", f"jerks must be 1 to {MAX_JERKS}")
            )
        elif details.cluster and details.jerks < 2:
            errors.append(
                FieldError("jerks", "episode.cluster_of_one", "a cluster has at least 2 jerks")
            )
    if details.fever_c is not None:
        low, high = FEVER_RANGE_C
        if not math.isfinite(details.fever_c) or not low <= details.fever_c <= high:
            errors.append(
                FieldError(
                    "fever_c",
                    "episode.bad_fever",
                    f"a baby's temperature is between {low:g} and {high:g} °C; check the value",
                )
            )
    notes = details.notes.strip()
    if len(notes) > MAX_NOTES:
        errors.append(
            FieldError("notes", "episode.long_notes", f"notes are at most {MAX_NOTES} characters")
        )
    if errors:
        raise EpisodeInvalid(errors)
    limbs = tuple(limb for limb in LIMBS if limb in details.limbs)  # one order, no repeats
    return Details(
        limbs=limbs,
        alert=details.alert,
        floppy=details.floppy,
        state=details.state,
        cluster=details.is_cluster,
        jerks=details.jerks,
        fever=details.fever,
        fever_c=details.fever_c,
        vomiting=details.vomiting,
        poor_feeding=details.poor_feeding,
        notes=notes,
    )


# --- the room around the onset -------------------------------------------------------


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


# --- the signs a doctor should hear about ------------------------------------------


def episode_signs(episode: Episode, now: datetime) -> list[Sign]:
    """The signs in one episode that guidance asks a doctor to look at."""
    signs: list[Sign] = []
    details = episode.details
    lasted = episode.duration_s
    if episode.running:
        lasted = (now - episode.started_at).total_seconds()
    if lasted is not None and lasted > LONG_AFTER_S:
        signs.append("long")
    if "whole_body" in details.limbs:
        signs.append("whole_body")
    if details.alert is False:
        signs.append("not_alert")
    if details.floppy:
        signs.append("floppy")
    if details.has_fever:
        signs.append("fever")
    if details.vomiting:
        signs.append("vomiting")
    if details.poor_feeding:
        signs.append("poor_feeding")
    if details.is_cluster:
        signs.append("cluster")
    return signs


# --- patterns -------------------------------------------------------------------------

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


# --- words shared by the page, the report and the exports -------------------------------


def duration_words(seconds: float | None) -> str:
    if seconds is None:
        return "not timed"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def limbs_words(limbs: Sequence[Limb]) -> str:
    return ", ".join(LIMB_WORDS[limb] for limb in limbs) or "not said"


def symptom_words(details: Details, unit: Literal["C", "F"] = "C") -> list[str]:
    """The symptoms as short phrases, for tables; a fever in the caregivers' unit."""
    words = []
    if details.has_fever:
        fever = details.fever_c
        shown = None if fever is None else fever * 9 / 5 + 32 if unit == "F" else fever
        words.append(f"fever {shown:.1f} °{unit}" if shown else "fever")
    if details.vomiting:
        words.append("vomiting")
    if details.poor_feeding:
        words.append("poor feeding")
    if details.floppy:
        words.append("floppy")
    return words


@dataclass(frozen=True, slots=True)
class NewEpisode:
    """What the API or the button hands the log to store."""

    timing: Timing
    details: Details = field(default_factory=Details)
    source: Source = "app"
