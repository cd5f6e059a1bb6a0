"""The rooms table (status, fault, firmware health), and what the hub knows about each room
now. A room with no recent reading is stale, never fine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contract.messages import FaultMessage, HealthMessage
from contract.topics import Status
from hub.store.receipts import Receipts
from hub.store.records import (
    LATEST_COLUMNS,
    Fault,
    LatestReading,
    RoomState,
    from_ms,
    latest_reading,
    to_ms,
)

_ROOM_COLUMNS = (
    "SELECT id, name, status, status_at_ms, last_seen_ms, fault_at_ms,"
    " fault_error, fault_count FROM rooms"
)


class RoomTable(Receipts):
    """Each room's status, latest fault and firmware counters, as MQTT last told them."""

    def set_status(self, room: str, status: Status, at: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE rooms SET status = ?, status_at_ms = ? WHERE id = ?",
                (status, to_ms(at), self._room_id(db, room)),
            )

    def add_fault(self, fault: FaultMessage, received_at: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE rooms SET fault_at_ms = ?, fault_error = ?, fault_count = ?,"
                " last_seen_ms = max(coalesce(last_seen_ms, 0), ?) WHERE id = ?",
                (
                    to_ms(fault.ts),
                    fault.error,
                    fault.consecutive_failures,
                    to_ms(received_at),
                    self._room_id(db, fault.room),
                ),
            )

    def set_health(self, health: HealthMessage, received_at: datetime) -> None:
        """Keep the firmware's latest counters (outbox size, drops, read errors), and let
        its floor move the marks of the boots it names past holes the cap left."""
        with self._tx() as db:
            room_id = self._room_id(db, health.room)
            db.execute(
                "UPDATE rooms SET health_json = ?, health_at_ms = ? WHERE id = ?",
                (health.encode().decode(), to_ms(received_at), room_id),
            )
            self._floors[room_id] = dict(health.floor)
            for boot_id, floor in health.floor.items():
                row = db.execute(
                    "SELECT id FROM boots WHERE room_id = ? AND boot_id = ?", (room_id, boot_id)
                ).fetchone()
                if row is not None:
                    self._advance_mark(db, int(row[0]), floor)

    def health(self, room: str) -> HealthMessage | None:
        with self._lock:
            row = self._db.execute(
                "SELECT health_json FROM rooms WHERE name = ?", (room,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return HealthMessage.decode(str(row[0]).encode())

    def rooms(self) -> list[RoomState]:
        with self._lock:
            rows = self._db.execute(_ROOM_COLUMNS + " ORDER BY name").fetchall()
            return [self._room_state(row) for row in rows]

    def room(self, name: str) -> RoomState | None:
        with self._lock:
            row = self._db.execute(_ROOM_COLUMNS + " WHERE name = ?", (name,)).fetchone()
            return None if row is None else self._room_state(row)

    def _room_state(self, row: tuple[object, ...]) -> RoomState:
        room_id, name, status, status_at, last_seen, fault_at, fault_error, fault_count = row
        latest_row = self._db.execute(
            f"SELECT {LATEST_COLUMNS}"  # noqa: S608 - a fixed column list
            " FROM readings JOIN boots ON boots.id = readings.boot"
            " WHERE readings.room_id = ? ORDER BY ts_ms DESC LIMIT 1",
            (room_id,),
        ).fetchone()
        latest = None if latest_row is None else latest_reading(latest_row)
        fault = None
        if isinstance(fault_at, int) and isinstance(fault_error, str):
            fault = Fault(from_ms(fault_at), fault_error, int(str(fault_count or 1)))
        return RoomState(
            name=str(name),
            status="online" if status == "online" else "offline" if status else None,
            status_at=from_ms(status_at) if isinstance(status_at, int) else None,
            last_seen=from_ms(last_seen) if isinstance(last_seen, int) else None,
            latest=latest,
            fault=fault,
        )


# --- what the hub knows about each room now: pure over a snapshot and a time -------------


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


def room_summaries(
    store: RoomTable, now: datetime, stale_after_s: float | Callable[[str], float]
) -> list[RoomSummary]:
    """Every room's summary; `stale_after_s` may differ by room (a sleepy sensor's)."""

    def limit(room: str) -> float:
        return stale_after_s(room) if callable(stale_after_s) else stale_after_s

    return [summarize(state, now, limit(state.name)) for state in store.rooms()]
