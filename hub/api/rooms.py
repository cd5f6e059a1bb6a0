"""Rooms and their readings: GET /api/rooms and GET /api/rooms/{room}/readings."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from hub.api.deps import ContextDep, require_caregiver
from hub.api.schemas import FaultOut, LatestOut, ReadingOut, RoomOut, SeriesOut
from hub.rooms import RoomSummary, room_summaries

router = APIRouter(prefix="/api/rooms", tags=["rooms"], dependencies=[Depends(require_caregiver)])

DEFAULT_SPAN = timedelta(hours=24)


def _room_out(summary: RoomSummary) -> RoomOut:
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
    )


@router.get("", response_model=list[RoomOut])
def list_rooms(ctx: ContextDep) -> list[RoomOut]:
    """Every room the hub has heard of, with its latest reading and whether it is stale."""
    now = ctx.clock()
    return [
        _room_out(summary)
        for summary in room_summaries(ctx.store, now, ctx.settings.rules.stale_after_s)
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
        raise HTTPException(
            422, detail=[{"loc": ["query", "since"], "msg": "since is after until"}]
        )
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
