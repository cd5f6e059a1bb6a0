"""What the hub knows about each room right now: latest reading, status, and staleness.

Pure over a Store snapshot and a time, so the API and later the rules share one answer to
"is this room being watched?". A room with no recent reading is stale, never "fine".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hub.store.database import Fault, LatestReading, RoomState, Store


@dataclass(frozen=True, slots=True)
class RoomSummary:
    room: str
    status: Literal["online", "offline", "unknown"]
    status_since: datetime | None
    last_seen: datetime | None
    seconds_since_seen: float | None
    stale: bool
    latest: LatestReading | None
    fault: Fault | None

    @property
    def online(self) -> bool:
        return self.status == "online"


def summarize(state: RoomState, now: datetime, stale_after_s: float) -> RoomSummary:
    """A room is stale when its newest valid reading arrived more than stale_after_s ago."""
    newest = state.latest.received_at if state.latest else None
    stale = newest is None or (now - newest).total_seconds() > stale_after_s
    since_seen = (now - state.last_seen).total_seconds() if state.last_seen else None
    # A fault older than the newest good reading is history, not the current state.
    fault = state.fault
    if fault and state.latest and fault.at <= state.latest.ts:
        fault = None
    return RoomSummary(
        room=state.name,
        status=state.status or "unknown",
        status_since=state.status_at,
        last_seen=state.last_seen,
        seconds_since_seen=None if since_seen is None else max(0.0, since_seen),
        stale=stale,
        latest=state.latest,
        fault=fault,
    )


def room_summaries(store: Store, now: datetime, stale_after_s: float) -> list[RoomSummary]:
    return [summarize(state, now, stale_after_s) for state in store.rooms()]
