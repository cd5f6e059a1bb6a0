"""The episode log over HTTP: /api/episodes (list, log, edit, delete with undo, start and
stop), the doctor card, the patterns, and the pediatrician report with its PDF and CSV.

Every route needs a signed-in caregiver or an API token: this is health data. Routes are
thin: they parse, call hub/episodes/log.py, and translate its exceptions in one place.
Responses are never cached, and nothing an episode holds is logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from hub.api.deps import CaregiverDep, ContextDep, HubContext, PageCaregiverDep, unprocessable
from hub.episodes.doctor_card import DoctorCard, Urgency
from hub.episodes.log import EpisodeLog, day_bounds
from hub.episodes.model import (
    MAX_JERKS,
    MAX_NOTES,
    Details,
    Episode,
    EpisodeInvalid,
    FieldError,
    Limb,
    NewEpisode,
    Patterns,
    Sign,
    Timing,
    WakeState,
    episode_signs,
)
from hub.episodes.report import Report, build_report, check_period, iter_readings
from hub.episodes.report_render import episodes_csv, readings_csv, render_html
from hub.episodes.storage import UNDO_WINDOW, EpisodeStore

router = APIRouter(prefix="/api/episodes", tags=["episodes"])

NO_STORE: Final = {"Cache-Control": "no-store"}
DEFAULT_LIST_SPAN: Final = timedelta(days=30)
DEFAULT_REPORT_DAYS: Final = 14


# --- shapes --------------------------------------------------------------------------


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
        return Details(
            limbs=tuple(self.limbs),
            alert=self.alert,
            floppy=self.floppy,
            state=self.state,
            cluster=self.cluster,
            jerks=self.jerks,
            fever=self.fever,
            fever_c=self.fever_c,
            vomiting=self.vomiting,
            poor_feeding=self.poor_feeding,
            notes=self.notes,
        )


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
        snapshot=None
        if s is None
        else SnapshotOut(
            reading_at=s.reading_at,
            temperature_c=s.temperature_c,
            humidity_pct=s.humidity_pct,
            lowest_c=s.lowest_c,
            trend_c_per_h=s.trend_c_per_h,
            trend=s.trend,
            minutes_below_cold=s.minutes_below_cold,
            cold_below_c=s.cold_below_c,
            cold_alert_open=s.cold_alert_open,
            readings=s.readings,
        ),
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


def episode_log(ctx: ContextDep, response: Response) -> Iterator[EpisodeLog]:
    """An EpisodeLog on a connection of this request's own; the log's exceptions become
    HTTP answers in hub/api/errors.py, each naming the field it is about."""
    response.headers.update(NO_STORE)
    episodes = EpisodeStore(ctx.settings.hub.db)
    try:
        yield EpisodeLog(ctx.settings, ctx.store, episodes, ctx.clock())
    finally:
        episodes.close()


LogDep = Annotated[EpisodeLog, Depends(episode_log)]


def local_zone() -> tuple[tzinfo, str]:
    """The hub's own time zone (TZ, else /etc/localtime), else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    try:
        with localtime.open("rb") as handle:
            zone = ZoneInfo.from_file(handle)
        target = str(localtime.resolve())
        marker = "/zoneinfo/"
        return zone, target.split(marker, 1)[1] if marker in target else "local time"
    except (OSError, ValueError):
        return UTC, "UTC"


def zone_of(tz: str | None) -> tuple[tzinfo, str]:
    if not tz:
        return local_zone()
    try:
        return ZoneInfo(tz), tz
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise unprocessable(
            "query", "tz", f"{tz!r} is not a known time zone", "episode.bad_tz"
        ) from exc


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TzQuery = Annotated[
    str | None,
    Query(description="IANA time zone for days and local times (default: the hub's own)."),
]
RoomQuery = Annotated[str | None, Query(description="Only this room.")]
SinceDay = Annotated[date | None, Query(description="First day (default: 14 days ago).")]
UntilDay = Annotated[date | None, Query(description="Last day, included (default: today).")]


def _period(
    now: datetime, since: date | None, until: date | None, tz: str | None
) -> tuple[date, date, tzinfo, str]:
    zone, name = zone_of(tz)
    for field, day in (("since", since), ("until", until)):
        # Days near year 1 or 9999 would overflow the date arithmetic below.
        if day is not None and not date(1970, 1, 1) <= day <= date(9999, 12, 1):
            bad = f"{field} must be a day from 1970-01-01 to 9999-12-01"
            raise unprocessable("query", field, bad, "episode.bad_period")
    last = until or now.astimezone(zone).date()
    first = since or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    problem = check_period(first, last)
    if problem:
        raise unprocessable("query", "until", problem, "episode.bad_period")
    return first, last, zone, name


def _end_from(
    started_at: datetime, ended_at: datetime | None, duration_s: float | None
) -> tuple[datetime | None, str]:
    """The end from ended_at or duration_s, and the field name errors should use."""
    if ended_at is not None and duration_s is not None:
        raise EpisodeInvalid(
            [FieldError("duration_s", "episode.end_twice", "give ended_at or duration_s, not both")]
        )
    if duration_s is None:
        return ended_at, "ended_at"
    if not 0 < duration_s <= 86400:
        raise EpisodeInvalid(
            [
                FieldError(
                    "duration_s",
                    "episode.bad_duration",
                    "duration_s must be more than 0 and at most 86400 (a day)",
                )
            ]
        )
    return started_at + timedelta(seconds=duration_s), "duration_s"


# --- routes (fixed paths before /{episode_id}) -----------------------------------------------


@router.get("", response_model=list[EpisodeOut])
def list_episodes(
    caregiver: CaregiverDep,
    log: LogDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; default 30 days ago.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; default now.")] = None,
    room: RoomQuery = None,
    include_deleted: bool = False,
) -> list[EpisodeOut]:
    """Episodes on the timeline between since and until (a running one included), oldest
    first: what the chart draws as markers."""
    end = _utc(until) if until else log.now
    start = _utc(since) if since else end - DEFAULT_LIST_SPAN
    if start > end:
        raise unprocessable("query", "since", "since is after until", "episode.bad_range")
    found = log.episodes.between(start, end, room, include_deleted=include_deleted)
    return [episode_out(e, log.now) for e in found]


@router.post("", response_model=EpisodeOut, status_code=201)
def log_episode(caregiver: CaregiverDep, log: LogDep, body: EpisodeIn) -> EpisodeOut:
    """Log a past episode. Its room snapshot is taken from the readings of the hour before."""
    ended_at, end_field = _end_from(body.started_at, body.ended_at, body.duration_s)
    if not body.timed and ended_at is not None:
        raise EpisodeInvalid(
            [FieldError(end_field, "episode.untimed_end", "an untimed episode has no end")]
        )
    new = NewEpisode(Timing(body.room, body.started_at, ended_at, body.timed), body.details())
    return episode_out(log.create(new, by=caregiver.id, end_field=end_field), log.now)


@router.post("/start", response_model=EpisodeOut, status_code=201)
def start_episode(caregiver: CaregiverDep, log: LogDep, body: StartIn) -> EpisodeOut:
    """ "Episode now": a running episode from this moment (409 if the room has one)."""
    return episode_out(log.start(body.room, by=caregiver.id), log.now)


@router.get("/card", response_model=CardOut)
def doctor_card(caregiver: CaregiverDep, log: LogDep) -> CardOut:
    """How urgently to get help, from the last week of the log (and the week before)."""
    return card_out(log.card())


@dataclass(frozen=True, slots=True)
class Period:
    """The days a pattern or report covers, in the caregiver's time zone, and its room."""

    first: date
    last: date
    zone: tzinfo
    zone_name: str
    room: str | None

    def query(self) -> str:
        """The same period as a query string, for the report's own links."""
        values = {"since": self.first.isoformat(), "until": self.last.isoformat()}
        values["tz"] = self.zone_name
        if self.room:
            values["room"] = self.room
        return urlencode(values)


def report_period(
    ctx: ContextDep,
    since: SinceDay = None,
    until: UntilDay = None,
    tz: TzQuery = None,
    room: RoomQuery = None,
) -> Period:
    first, last, zone, name = _period(ctx.clock(), since, until, tz)
    return Period(first, last, zone, name, room)


PeriodDep = Annotated[Period, Depends(report_period)]


def _download(body: bytes | Iterator[str], media_type: str, filename: str) -> Response:
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    if isinstance(body, bytes):
        return Response(body, media_type=media_type, headers=headers)
    return StreamingResponse(body, media_type=media_type, headers=headers)


def _report(log: EpisodeLog, ctx: HubContext, period: Period) -> Report:
    return build_report(
        log,
        ctx.store,
        period.first,
        period.last,
        period.zone,
        period.zone_name,
        period.room,
        ctx.unit(),
    )


@router.get("/patterns", response_model=PatternsOut)
def episode_patterns(caregiver: CaregiverDep, log: LogDep, period: PeriodDep) -> PatternsOut:
    """Per day and week, durations, time of day and the room's comfort band at onset."""
    found = log.patterns(period.first, period.last, period.zone, period.room)
    return patterns_out(found, period.zone_name)


@router.get("/report", response_class=HTMLResponse)
def report_page(
    caregiver: PageCaregiverDep, log: LogDep, ctx: ContextDep, period: PeriodDep
) -> HTMLResponse:
    """The pediatrician report as one printable page (a browser without a session is sent
    to sign in first)."""
    page = render_html(
        _report(log, ctx, period),
        period.query(),
        emergency_number=log.policy().emergency_number,
    )
    return HTMLResponse(page, headers=NO_STORE)


@router.get("/report.pdf", response_class=Response)
def report_pdf(
    caregiver: CaregiverDep, log: LogDep, ctx: ContextDep, period: PeriodDep
) -> Response:
    """The same report as a PDF download."""
    from hub.episodes.report_pdf import render_pdf

    pdf = render_pdf(_report(log, ctx, period))
    return _download(pdf, "application/pdf", f"episodes-{period.first}-{period.last}.pdf")


@router.get("/report/episodes.csv", response_class=StreamingResponse)
def report_episodes_csv(caregiver: CaregiverDep, log: LogDep, period: PeriodDep) -> Response:
    """The period's episodes, one row each, with their room snapshot."""
    start, end = day_bounds(period.first, period.last, period.zone)
    chosen = [
        e
        for e in log.episodes.between(start, end, period.room)
        if period.first <= e.started_at.astimezone(period.zone).date() <= period.last
    ]
    lines = list(episodes_csv(chosen, period.zone))  # before the request's connection closes
    name = f"episodes-{period.first}-{period.last}.csv"
    return _download(iter(lines), "text/csv; charset=utf-8", name)


@router.get("/report/readings.csv", response_class=StreamingResponse)
def report_readings_csv(caregiver: CaregiverDep, ctx: ContextDep, period: PeriodDep) -> Response:
    """Every reading of the period, streamed (a year of them never sits in memory)."""
    start, end = day_bounds(period.first, period.last, period.zone)
    rows = iter_readings(Path(ctx.settings.hub.db), start, end, period.room)
    name = f"readings-{period.first}-{period.last}.csv"
    return _download(readings_csv(rows, period.zone), "text/csv; charset=utf-8", name)


@router.get("/{episode_id}", response_model=EpisodeOut)
def get_episode(caregiver: CaregiverDep, log: LogDep, episode_id: int) -> EpisodeOut:
    return episode_out(log.episodes.get(episode_id), log.now)


@router.patch("/{episode_id}", response_model=EpisodeOut)
def edit_episode(
    caregiver: CaregiverDep, log: LogDep, episode_id: int, body: EpisodePatch
) -> EpisodeOut:
    """Change what was sent; the room snapshot is taken again when the onset moves."""
    old = log.episodes.get(episode_id)
    sent = body.model_fields_set
    room = body.room if "room" in sent and body.room is not None else old.room
    started = body.started_at if "started_at" in sent and body.started_at else old.started_at
    timed = body.timed if "timed" in sent and body.timed is not None else old.timing.timed
    if "ended_at" in sent or "duration_s" in sent:
        ended, end_field = _end_from(started, body.ended_at, body.duration_s)
    elif "timed" in sent and not timed:
        ended, end_field = None, "ended_at"
    elif old.ended_at is not None and "started_at" in sent:
        # Moving the start keeps the duration, as a parent correcting the clock expects.
        ended, end_field = started + (old.ended_at - old.started_at), "started_at"
    else:
        ended, end_field = old.ended_at, "ended_at"
    timing = Timing(room, started, ended, timed)
    if timing.running and not old.running:
        raise EpisodeInvalid(
            [
                FieldError(
                    end_field,
                    "episode.missing_end",
                    "a timed episode needs ended_at or duration_s",
                )
            ]
        )
    details = _merged(old.details, body)
    return episode_out(
        log.update(episode_id, timing, details, by=caregiver.id, end_field=end_field), log.now
    )


def _merged(old: Details, body: EpisodePatch) -> Details:
    """The stored details with the sent fields changed; a null yes/no means no."""
    sent = body.model_fields_set

    def pick(name: str, value: object, default: object) -> Any:
        return (default if value is None else value) if name in sent else getattr(old, name)

    return Details(
        limbs=tuple(body.limbs or ()) if "limbs" in sent else old.limbs,
        alert=body.alert if "alert" in sent else old.alert,
        floppy=pick("floppy", body.floppy, False),
        state=body.state if "state" in sent else old.state,
        cluster=pick("cluster", body.cluster, False),
        jerks=body.jerks if "jerks" in sent else old.jerks,
        fever=pick("fever", body.fever, False),
        fever_c=body.fever_c if "fever_c" in sent else old.fever_c,
        vomiting=pick("vomiting", body.vomiting, False),
        poor_feeding=pick("poor_feeding", body.poor_feeding, False),
        notes=pick("notes", body.notes, ""),
    )


@router.delete("/{episode_id}", response_model=EpisodeOut)
def delete_episode(caregiver: CaregiverDep, log: LogDep, episode_id: int) -> EpisodeOut:
    """Delete; POST /{id}/restore undoes it until `restorable_until`, then it is erased."""
    return episode_out(log.delete(episode_id), log.now)


@router.post("/{episode_id}/restore", response_model=EpisodeOut)
def restore_episode(caregiver: CaregiverDep, log: LogDep, episode_id: int) -> EpisodeOut:
    """Undo a delete (422 if another episode has taken its time since)."""
    return episode_out(log.restore(episode_id), log.now)


@router.post("/{episode_id}/stop", response_model=EpisodeOut)
def stop_episode(caregiver: CaregiverDep, log: LogDep, episode_id: int) -> EpisodeOut:
    """End a running episode now."""
    return episode_out(log.stop(episode_id, by=caregiver.id), log.now)
