"""The episode log over HTTP, /api/episodes: log, edit, delete with undo, start and stop,
the doctor card, the patterns, and the pediatrician report with its PDF and CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from hub.api.deps import CaregiverDep, ContextDep, HubContext, PageCaregiverDep, unprocessable
from hub.api.episode_shapes import (
    CardOut,
    EpisodeIn,
    EpisodeOut,
    EpisodePatch,
    PatternsOut,
    StartIn,
    card_out,
    episode_out,
    patterns_out,
)
from hub.episodes.changes import edited_details, edited_timing, new_timing
from hub.episodes.log import EpisodeLog, day_bounds
from hub.episodes.model import NewEpisode
from hub.episodes.period import Period, PeriodInvalid, asked_period
from hub.episodes.storage import EpisodeStore
from hub.messages import Unit

if TYPE_CHECKING:  # the report's modules (and Jinja2) load at the first report asked for
    from hub.episodes.report import Report

# Every route needs a signed-in caregiver or an API token: this is health data. Routes parse,
# call hub/episodes/log.py, and hub/api/errors.py turns its exceptions into answers.
# Responses are never cached, and nothing an episode holds is logged.
router = APIRouter(prefix="/api/episodes", tags=["episodes"])

NO_STORE: Final = {"Cache-Control": "no-store"}
DEFAULT_LIST_SPAN: Final = timedelta(days=30)


def _unit(ctx: HubContext) -> Unit:
    """°C or °F, as the caregivers chose on the settings page."""
    return ctx.preferences.household().unit if ctx.preferences is not None else "C"


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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TzQuery = Annotated[
    str | None,
    Query(description="IANA time zone for days and local times (default: the hub's own)."),
]
RoomQuery = Annotated[str | None, Query(description="Only this room.")]
SinceDay = Annotated[date | None, Query(description="First day (default: 14 days ago).")]
UntilDay = Annotated[date | None, Query(description="Last day, included (default: today).")]


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
    timing, end_field = new_timing(
        body.room, body.started_at, body.ended_at, body.duration_s, body.timed
    )
    new = NewEpisode(timing, body.details())
    return episode_out(log.create(new, by=caregiver.id, end_field=end_field), log.now)


@router.post("/start", response_model=EpisodeOut, status_code=201)
def start_episode(caregiver: CaregiverDep, log: LogDep, body: StartIn) -> EpisodeOut:
    """ "Episode now": a running episode from this moment (409 if the room has one)."""
    return episode_out(log.start(body.room, by=caregiver.id), log.now)


@router.get("/card", response_model=CardOut)
def doctor_card(caregiver: CaregiverDep, log: LogDep) -> CardOut:
    """How urgently to get help, from the last week of the log (and the week before)."""
    return card_out(log.card())


def report_period(
    ctx: ContextDep,
    since: SinceDay = None,
    until: UntilDay = None,
    tz: TzQuery = None,
    room: RoomQuery = None,
) -> Period:
    """The period the query asks for; a 422 naming the query field that is wrong."""
    try:
        return asked_period(ctx.clock(), since, until, tz, room)
    except PeriodInvalid as exc:
        e = exc.error
        raise unprocessable("query", e.field, e.message, e.code) from exc


PeriodDep = Annotated[Period, Depends(report_period)]


def _download(body: bytes | Iterator[str], media_type: str, filename: str) -> Response:
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    if isinstance(body, bytes):
        return Response(body, media_type=media_type, headers=headers)
    return StreamingResponse(body, media_type=media_type, headers=headers)


def _report(log: EpisodeLog, ctx: HubContext, period: Period) -> Report:
    from hub.episodes.report import build_report

    return build_report(
        log,
        ctx.store,
        period.first,
        period.last,
        period.zone,
        period.zone_name,
        period.room,
        _unit(ctx),
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
    from hub.episodes.report_render import render_html

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
    from hub.episodes.report_render import episodes_csv

    chosen = log.started_on(period.first, period.last, period.zone, period.room)
    lines = list(episodes_csv(chosen, period.zone))  # before the request's connection closes
    name = f"episodes-{period.first}-{period.last}.csv"
    return _download(iter(lines), "text/csv; charset=utf-8", name)


@router.get("/report/readings.csv", response_class=StreamingResponse)
def report_readings_csv(caregiver: CaregiverDep, ctx: ContextDep, period: PeriodDep) -> Response:
    """Every reading of the period, streamed (a year of them never sits in memory)."""
    from hub.episodes.report import iter_readings
    from hub.episodes.report_render import readings_csv

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
    sent = {name: getattr(body, name) for name in body.model_fields_set}
    timing, end_field = edited_timing(old, sent)
    details = edited_details(old.details, sent)
    return episode_out(
        log.update(episode_id, timing, details, by=caregiver.id, end_field=end_field), log.now
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
