"""The hub's history in one SQLite file: readings stored once per (room, boot_id, seq).

WAL with synchronous=NORMAL and batched commits, because a Pi's SD card wears with every
commit. The file is created 0600: it will hold health data.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from firmware.contract import FaultMessage, ReadingMessage, Status

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT CHECK (status IN ('online', 'offline')),
    status_at_ms INTEGER,
    last_seen_ms INTEGER,
    fault_at_ms INTEGER,
    fault_error TEXT,
    fault_count INTEGER
);
CREATE TABLE IF NOT EXISTS boots (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    boot_id TEXT NOT NULL,
    UNIQUE (room_id, boot_id)
);
CREATE TABLE IF NOT EXISTS readings (
    boot INTEGER NOT NULL REFERENCES boots(id),
    seq INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    temperature_c REAL NOT NULL,
    humidity_pct REAL NOT NULL,
    PRIMARY KEY (boot, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_room_time ON readings (room_id, ts_ms);
"""


def to_ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class StoreError(Exception):
    """The database cannot be opened or used; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class StoredReading:
    ts: datetime
    temperature_c: float
    humidity_pct: float


@dataclass(frozen=True, slots=True)
class LatestReading(StoredReading):
    boot_id: str
    seq: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Fault:
    at: datetime
    error: str
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class RoomState:
    name: str
    status: Literal["online", "offline"] | None
    status_at: datetime | None
    last_seen: datetime | None
    latest: LatestReading | None
    fault: Fault | None


@dataclass(frozen=True, slots=True)
class Series:
    points: list[StoredReading]
    downsampled: bool


@dataclass(frozen=True, slots=True)
class Received:
    """A validated reading with the hub's receive time."""

    reading: ReadingMessage
    received_at: datetime


class Store:
    """All reads and writes of the hub's SQLite file.

    One connection shared under a lock: the ingest thread writes in batches, HTTP handlers
    read. SQLite serialises writers anyway, and one connection keeps memory small on a Pi.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Create the file 0600 before SQLite does, whatever the umask.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                os.close(fd)
                self.path.chmod(0o600)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        for suffix in ("-wal", "-shm"):
            side = Path(f"{self.path}{suffix}")
            if side.exists():
                side.chmod(0o600)
        self._room_ids: dict[str, int] = {}
        self._boot_ids: dict[tuple[int, str], int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _room_id(self, db: sqlite3.Connection, name: str) -> int:
        room_id = self._room_ids.get(name)
        if room_id is None:
            db.execute("INSERT OR IGNORE INTO rooms (name) VALUES (?)", (name,))
            row = db.execute("SELECT id FROM rooms WHERE name = ?", (name,)).fetchone()
            room_id = int(row[0])
            self._room_ids[name] = room_id
        return room_id

    def _boot(self, db: sqlite3.Connection, room_id: int, boot_id: str) -> int:
        key = (room_id, boot_id)
        boot = self._boot_ids.get(key)
        if boot is None:
            db.execute("INSERT OR IGNORE INTO boots (room_id, boot_id) VALUES (?, ?)", key)
            row = db.execute(
                "SELECT id FROM boots WHERE room_id = ? AND boot_id = ?", key
            ).fetchone()
            boot = int(row[0])
            self._boot_ids[key] = boot
        return boot

    # --- writes ---------------------------------------------------------------------

    def add_readings(self, batch: Iterable[Received]) -> int:
        """Store a batch in one commit; returns how many were new (redeliveries are not)."""
        with self._tx() as db:
            inserted = 0
            last_seen: dict[int, int] = {}
            for item in batch:
                reading = item.reading
                room_id = self._room_id(db, reading.room)
                received_ms = to_ms(item.received_at)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO readings (boot, seq, room_id, ts_ms, received_ms,"
                    " temperature_c, humidity_pct) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._boot(db, room_id, reading.boot_id),
                        reading.seq,
                        room_id,
                        to_ms(reading.ts),
                        received_ms,
                        reading.temperature_c,
                        reading.humidity_pct,
                    ),
                )
                inserted += cursor.rowcount
                last_seen[room_id] = max(received_ms, last_seen.get(room_id, 0))
            for room_id, seen_ms in last_seen.items():
                db.execute(
                    "UPDATE rooms SET last_seen_ms = max(coalesce(last_seen_ms, 0), ?)"
                    " WHERE id = ?",
                    (seen_ms, room_id),
                )
            return inserted

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

    # --- reads ----------------------------------------------------------------------

    def count_readings(self, room: str | None = None) -> int:
        with self._lock:
            if room is None:
                row = self._db.execute("SELECT count(*) FROM readings").fetchone()
            else:
                row = self._db.execute(
                    "SELECT count(*) FROM readings JOIN rooms ON rooms.id = readings.room_id"
                    " WHERE rooms.name = ?",
                    (room,),
                ).fetchone()
            return int(row[0])

    def rooms(self) -> list[RoomState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, status, status_at_ms, last_seen_ms, fault_at_ms,"
                " fault_error, fault_count FROM rooms ORDER BY name"
            ).fetchall()
            return [self._room_state(row) for row in rows]

    def room(self, name: str) -> RoomState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, status, status_at_ms, last_seen_ms, fault_at_ms,"
                " fault_error, fault_count FROM rooms WHERE name = ?",
                (name,),
            ).fetchone()
            return None if row is None else self._room_state(row)

    def _room_state(self, row: tuple[object, ...]) -> RoomState:
        room_id, name, status, status_at, last_seen, fault_at, fault_error, fault_count = row
        latest_row = self._db.execute(
            "SELECT ts_ms, temperature_c, humidity_pct, boots.boot_id, seq, received_ms"
            " FROM readings JOIN boots ON boots.id = readings.boot"
            " WHERE readings.room_id = ? ORDER BY ts_ms DESC LIMIT 1",
            (room_id,),
        ).fetchone()
        latest = None
        if latest_row is not None:
            latest = LatestReading(
                ts=from_ms(latest_row[0]),
                temperature_c=latest_row[1],
                humidity_pct=latest_row[2],
                boot_id=latest_row[3],
                seq=latest_row[4],
                received_at=from_ms(latest_row[5]),
            )
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

    def readings(self, room: str, since: datetime, until: datetime, max_points: int) -> Series:
        """The room's readings in [since, until], averaged into at most max_points buckets."""
        lo, hi = to_ms(since), to_ms(until)
        with self._lock:
            row = self._db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()
            if row is None:
                return Series([], downsampled=False)
            room_id = int(row[0])
            count = self._db.execute(
                "SELECT count(*) FROM readings WHERE room_id = ? AND ts_ms BETWEEN ? AND ?",
                (room_id, lo, hi),
            ).fetchone()[0]
            if count <= max_points:
                rows = self._db.execute(
                    "SELECT ts_ms, temperature_c, humidity_pct FROM readings"
                    " WHERE room_id = ? AND ts_ms BETWEEN ? AND ? ORDER BY ts_ms",
                    (room_id, lo, hi),
                ).fetchall()
                downsampled = False
            else:
                width = max(1, -(-(hi - lo + 1) // max_points))  # ceiling division
                rows = self._db.execute(
                    "SELECT CAST(avg(ts_ms) AS INTEGER), avg(temperature_c), avg(humidity_pct)"
                    " FROM readings WHERE room_id = ? AND ts_ms BETWEEN ? AND ?"
                    " GROUP BY (ts_ms - ?) / ? ORDER BY 1",
                    (room_id, lo, hi, lo, width),
                ).fetchall()
                downsampled = True
        return Series(
            [StoredReading(from_ms(ts), round(t, 2), round(h, 2)) for ts, t, h in rows],
            downsampled=downsampled,
        )
