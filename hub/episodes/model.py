"""The parent's episode log as values: what an episode is, the signs a doctor should hear
about, and the words the page, the report and the exports share (no clock, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args

from hub.comfort import Comfort

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
