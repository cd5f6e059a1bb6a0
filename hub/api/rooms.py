"""Rooms and their readings: GET /api/rooms, /api/rooms/{room}/readings and the charts'
/api/rooms/{room}/history."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from hub import messages
from hub.api.deps import ContextDep, HubContext, require_caregiver, unprocessable
from hub.api.schemas import (
    AlertPeriodOut,
    FaultOut,
    HistoryOut,
    HistoryPointOut,
    LatestOut,
    ReadingOut,
    RoomOut,
    SeriesOut,
    StatOut,
)
from hub.sources.settings import source_for, stale_after_s
from hub.store.history import history, time_zone
from hub.store.rooms import RoomSummary, room_summaries

router = APIRouter(prefix="/api/rooms", tags=["rooms"], dependencies=[Depends(require_caregiver)])

DEFAULT_SPAN = timedelta(hours=24)


def _room_out(summary: RoomSummary, ctx: HubContext) -> RoomOut:
    source = source_for(ctx.settings.hub.sources, summary.room)
    stale_s = stale_after_s(
        ctx.settings.hub.sources, summary.room, ctx.settings.rules.stale_after_s
    )
    if source is not None:
        described = (
            messages.source_name(source),
            messages.reporting(source),
            messages.source_accuracy(source),
        )
    else:  # a Pi room: its own sensor, as its firmware's health message names it
        health = ctx.store.health(summary.room)
        model = health.sensor if health is not None else None
        described = (
            messages.pi_source_name(model),
            messages.pi_reporting(stale_s),
            messages.pi_accuracy(model),
        )
    return RoomOut(
        room=summary.room,
        status=summary.status,
        online=summary.online,
        status_since=summary.status_since,
        last_seen=summary.last_seen,
        seconds_since_seen=summary.seconds_since_seen,
        stale=summary.stale,
        latest=LatestOut(**asdict(summary.latest)) if summary.latest else None,
        fault=FaultOut(**asdict(summary.fault)) if summary.fault else None,
        stale_after_s=stale_s,
        source=described[0],
        reporting=described[1],
        accuracy=described[2],
    )


@router.get("", response_model=list[RoomOut])
def list_rooms(ctx: ContextDep) -> list[RoomOut]:
    """Every room the hub has heard of, with its latest reading and whether it is stale."""
    now = ctx.clock()
    sources, default = ctx.settings.hub.sources, ctx.settings.rules.stale_after_s
    return [
        _room_out(summary, ctx)
        for summary in room_summaries(
            ctx.store, now, lambda room: stale_after_s(sources, room, default)
        )
    ]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/{room}/readings", response_model=SeriesOut)
def room_readings(
    ctx: ContextDep,
    room: str,
    since: Annotated[
        datetime | None,
        Query(description="ISO 8601 start (UTC when no offset); default 24 h before until."),
    ] = None,
    until: Annotated[
        datetime | None, Query(description="ISO 8601 end (UTC when no offset); default now.")
    ] = None,
    max_points: Annotated[
        int, Query(ge=2, le=10000, description="Most points returned; longer spans are averaged.")
    ] = 1000,
) -> SeriesOut:
    end = _utc(until) if until else ctx.clock()
    start = _utc(since) if since else end - DEFAULT_SPAN
    if start > end:
        raise unprocessable("query", "since", "since is after until")
    if ctx.store.room(room) is None:
        raise HTTPException(404, detail=f"no room named {room!r}")
    series = ctx.store.readings(room, start, end, max_points)
    return SeriesOut(
        room=room,
        since=start,
        until=end,
        downsampled=series.downsampled,
        points=[ReadingOut(**asdict(point)) for point in series.points],
    )


@router.get("/{room}/history", response_model=HistoryOut)
def room_history(
    ctx: ContextDep,
    room: str,
    span: Annotated[
        Literal["24h", "7d", "1y"],
        Query(
            alias="range",
            description="`24h`: the readings (5-minute buckets once there are more than "
            "288); `7d`: hours, from the hourly rollup; `1y`: days, from the hourly rollup.",
        ),
    ] = "24h",
    tz: Annotated[
        str,
        Query(
            max_length=64,
            description="IANA time zone whose midnights start the days of `1y`, "
            "e.g. Europe/London.",
        ),
    ] = "UTC",
) -> HistoryOut:
    """The room's chart for the last 24 hours, 7 days or year: each point with the mean,
    min and max of temperature and humidity, and the alerts open at any time in the range.
    The long ranges read the hourly rollup, never the raw readings."""
    try:
        zone = time_zone(tz)
    except ValueError as exc:
        raise unprocessable("query", "tz", str(exc)) from exc
    if ctx.store.room(room) is None:
        raise HTTPException(404, detail=f"no room named {room!r}")
    chart = history(ctx.store, room, span, ctx.clock(), zone)
    return HistoryOut(
        room=chart.room,
        range=chart.range,
        since=chart.since,
        until=chart.until,
        bucket_s=chart.bucket_s,
        source=chart.source,
        newest=chart.newest,
        points=[
            HistoryPointOut(
                ts=point.ts,
                count=point.count,
                temperature_c=StatOut(**asdict(point.temperature_c)),
                humidity_pct=StatOut(**asdict(point.humidity_pct)),
            )
            for point in chart.points
        ],
        alerts=[AlertPeriodOut(**asdict(period)) for period in chart.alerts],
    )
