"""The episode log's request and answer shapes over HTTP, and the domain values as answers."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field

from hub.episodes.doctor_card import DoctorCard, Urgency
from hub.episodes.model import (
    MAX_JERKS,
    MAX_NOTES,
    Details,
    Episode,
    Limb,
    Sign,
    WakeState,
    episode_signs,
)
from hub.episodes.patterns import Patterns
from hub.episodes.storage import UNDO_WINDOW


class DetailsIn(BaseModel):
    limbs: list[Limb] = Field(
        [], description="Which moved: left_leg, right_leg, arms, whole_body.", max_length=4
    )
    alert: bool | None = Field(
        None, description="Was the baby alert and responsive during it? null: not said."
    )
    floppy: bool = Field(False, description="The baby was floppy (limp) during it.")
    state: WakeState | None = Field(None, description="asleep, waking or awake when it began.")
    cluster: bool = Field(False, description="A cluster of jerks rather than one.")
    jerks: int | None = Field(None, description=f"How many jerks (1 to {MAX_JERKS}).")
    fever: bool = Field(False, description="The baby had a fever.")
    fever_c: float | None = Field(None, description="The baby's measured temperature, °C.")
    vomiting: bool = False
    poor_feeding: bool = False
    notes: str = Field("", description=f"Free text, at most {MAX_NOTES} characters.")

    def details(self) -> Details:
        """The answers as the domain's Details: the same fields, limbs as a tuple."""
        answers = {name: getattr(self, name) for name in DetailsIn.model_fields}
        return Details(**{**answers, "limbs": tuple(self.limbs)})


class EpisodeIn(DetailsIn):
    """A past episode: a start and an end (or a duration), or untimed."""

    room: str = Field(description="The room it happened in (a room the hub knows).")
    started_at: AwareDatetime = Field(description="When it began, with its UTC offset.")
    ended_at: AwareDatetime | None = Field(None, description="When it ended.")
    duration_s: float | None = Field(None, description="Or: how long it lasted, in seconds.")
    timed: bool = Field(True, description="false when nobody knows how long it lasted.")


class EpisodePatch(BaseModel):
    """Only the fields sent change."""

    room: str | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    duration_s: float | None = None
    timed: bool | None = None
    limbs: list[Limb] | None = Field(None, max_length=4)
    alert: bool | None = None
    floppy: bool | None = None
    state: WakeState | None = None
    cluster: bool | None = None
    jerks: int | None = None
    fever: bool | None = None
    fever_c: float | None = None
    vomiting: bool | None = None
    poor_feeding: bool | None = None
    notes: str | None = None


class StartIn(BaseModel):
    room: str = Field(description="The room the episode is happening in.")


class SnapshotOut(BaseModel):
    reading_at: datetime | None = Field(description="The reading the onset values come from.")
    temperature_c: float | None = Field(description="Room temperature at onset.")
    humidity_pct: float | None
    lowest_c: float | None = Field(description="Lowest temperature in the hour before onset.")
    trend_c_per_h: float | None = Field(description="Temperature trend in that hour, °C/h.")
    trend: str | None = Field(description="falling, steady or rising.")
    minutes_below_cold: float | None = Field(description="Minutes below cold_below_c then.")
    cold_below_c: float
    cold_alert_open: bool = Field(description="A cold alert was open at onset.")
    readings: int = Field(description="Readings in the hour before onset.")


class EpisodeOut(BaseModel):
    id: int
    room: str
    started_at: datetime
    ended_at: datetime | None = Field(description="null while running, and when untimed.")
    running: bool
    timed: bool
    duration_s: float | None = Field(description="Seconds, computed in UTC.")
    limbs: list[str]
    alert: bool | None
    floppy: bool
    state: str | None
    cluster: bool
    jerks: int | None
    fever: bool
    fever_c: float | None
    vomiting: bool
    poor_feeding: bool
    notes: str
    source: str = Field(description="app, or button (the Pi's episode button).")
    details_missing: bool = Field(description="True until the parent says which limbs moved.")
    signs: list[Sign] = Field(description="Signs to discuss with a pediatrician.")
    snapshot: SnapshotOut | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    restorable_until: datetime | None = Field(description="A deleted one can be restored until.")


class ReasonOut(BaseModel):
    code: str = Field(description="A sign, frequent or rising.")
    text: str
    episode_ids: list[int]
    urgency: Urgency = Field(description="The level this reason alone would give the card.")


class CardOut(BaseModel):
    show: bool
    urgency: Urgency | None = Field(
        description="emergency (call the emergency number now), call_now (call the "
        "pediatrician now), next_visit (mention it at the next visit), or null: no card."
    )
    title: str = Field(description="For an emergency, the emergency sentence itself.")
    advice: str
    reasons: list[ReasonOut] = Field(description="Most urgent first.")
    emergency_number: str
    emergency: str = Field(description="The one emergency sentence, as on every page.")
    note: str


class DayOut(BaseModel):
    day: date
    count: int
    seconds: float


class CountOut(BaseModel):
    label: str
    count: int


class DurationsOut(BaseModel):
    timed: int
    untimed: int
    median_s: float | None
    longest_s: float | None
    total_s: float
    buckets: list[CountOut]


class PatternsOut(BaseModel):
    since: date
    until: date
    tz: str
    total: int
    per_day: list[DayOut]
    per_week: list[DayOut] = Field(description="`day` is the Monday each week starts on.")
    durations: DurationsOut
    by_hour: list[int] = Field(description="24 counts by local hour of onset.")
    by_part_of_day: list[CountOut]
    by_band: list[CountOut] = Field(description="The room's comfort band at onset.")
    signs: list[CountOut]
    caveat: str


def episode_out(episode: Episode, now: datetime) -> EpisodeOut:
    d, s = episode.details, episode.snapshot
    return EpisodeOut(
        id=episode.id,
        room=episode.room,
        started_at=episode.started_at,
        ended_at=episode.ended_at,
        running=episode.running,
        timed=episode.timing.timed,
        duration_s=episode.duration_s,
        limbs=list(d.limbs),
        alert=d.alert,
        floppy=d.floppy,
        state=d.state,
        cluster=d.is_cluster,
        jerks=d.jerks,
        fever=d.has_fever,
        fever_c=d.fever_c,
        vomiting=d.vomiting,
        poor_feeding=d.poor_feeding,
        notes=d.notes,
        source=episode.source,
        details_missing=d.missing,
        signs=episode_signs(episode, now),
        snapshot=None if s is None else SnapshotOut.model_validate(s, from_attributes=True),
        created_at=episode.created_at,
        updated_at=episode.updated_at,
        deleted_at=episode.deleted_at,
        restorable_until=None if episode.deleted_at is None else episode.deleted_at + UNDO_WINDOW,
    )


def card_out(card: DoctorCard) -> CardOut:
    return CardOut(
        show=card.show,
        urgency=card.urgency,
        title=card.title,
        advice=card.advice,
        reasons=[
            ReasonOut(code=r.code, text=r.text, episode_ids=list(r.episode_ids), urgency=r.urgency)
            for r in card.reasons
        ],
        emergency_number=card.emergency_number,
        emergency=card.emergency,
        note=card.note,
    )


def patterns_out(p: Patterns, tz: str) -> PatternsOut:
    return PatternsOut(
        since=p.first_day,
        until=p.last_day,
        tz=tz,
        total=p.total,
        per_day=[DayOut(day=d.day, count=d.count, seconds=d.seconds) for d in p.per_day],
        per_week=[DayOut(day=d.day, count=d.count, seconds=d.seconds) for d in p.per_week],
        durations=DurationsOut(
            timed=p.durations.timed,
            untimed=p.durations.untimed,
            median_s=p.durations.median_s,
            longest_s=p.durations.longest_s,
            total_s=p.durations.total_s,
            buckets=[CountOut(label=k, count=n) for k, n in p.durations.buckets],
        ),
        by_hour=list(p.by_hour),
        by_part_of_day=[CountOut(label=k, count=n) for k, n in p.by_part_of_day],
        by_band=[CountOut(label=k, count=n) for k, n in p.by_band],
        signs=[CountOut(label=k, count=n) for k, n in p.signs],
        caveat=p.caveat,
    )
