"""The hub's history in one SQLite file: readings stored once per (room, boot_id, seq).

WAL with synchronous=NORMAL and batched commits, because a Pi's SD card wears with every
commit. The file is created 0600: it will hold health data. Beside the readings, an hourly
rollup per room (count, sum, min, max) kept in the same commit, so a week's or a year's
chart reads a few thousand rows instead of millions.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from contract.errors import NurseryError
from contract.messages import FaultMessage, HealthMessage, ReadingMessage
from contract.topics import ContractError, Status
from hub.monitor.alerts import Incident
from hub.monitor.conditions import Condition
from hub.store.dbfile import connect_private, connect_read_only, write_transaction

SCHEMA_VERSION = 3
# SQLite's page cache for the readings file, in KiB (its default is 2,000). Ingest only
# touches the right-hand edge of each index and the charts read the small hourly rollup,
# so a quarter of that holds the working set; the kernel's page cache keeps the rest of
# the file near at hand. 0.9 MiB less hub RSS after a 100,000-reading feed.
CACHE_KIB = 512

log = logging.getLogger("nursery.hub.store")

HOUR_MS = 3_600_000
# Rollups are rebuilt from the readings once (after an upgrade), in steps of this many
# hours, with a progress line per step when there are at least BACKFILL_LOG_READINGS.
BACKFILL_STEP_HOURS = 30 * 24
BACKFILL_LOG_READINGS = 100_000
_ROLLUP_MARK = "rollup.hourly"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT CHECK (status IN ('online', 'offline')),
    status_at_ms INTEGER,
    last_seen_ms INTEGER,
    fault_at_ms INTEGER,
    fault_error TEXT,
    fault_count INTEGER,
    health_json TEXT,
    health_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS boots (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    boot_id TEXT NOT NULL,
    contiguous_seq INTEGER NOT NULL DEFAULT -1,
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
CREATE TABLE IF NOT EXISTS hourly (
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    hour_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    temperature_sum REAL NOT NULL,
    temperature_min REAL NOT NULL,
    temperature_max REAL NOT NULL,
    humidity_sum REAL NOT NULL,
    humidity_min REAL NOT NULL,
    humidity_max REAL NOT NULL,
    PRIMARY KEY (room_id, hour_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    condition TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    value REAL,
    threshold REAL,
    worst REAL,
    minutes_to_cold REAL,
    notified_at_ms INTEGER,
    last_push_at_ms INTEGER,
    repeats INTEGER NOT NULL DEFAULT 0,
    escalated_at_ms INTEGER,
    acked_at_ms INTEGER,
    acked_by TEXT,
    acked_via TEXT,
    rearm_from REAL,
    snoozed_until_ms INTEGER,
    held INTEGER NOT NULL DEFAULT 0,
    resolved_at_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_incident_per_condition
    ON incidents (room, condition) WHERE resolved_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS incidents_by_time ON incidents (opened_at_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_INCIDENT_COLUMNS = (
    "id, room, condition, opened_at_ms, since_ms, value, threshold, worst, minutes_to_cold,"
    " notified_at_ms, last_push_at_ms, repeats, escalated_at_ms, acked_at_ms, acked_by,"
    " acked_via, rearm_from, snoozed_until_ms, held, resolved_at_ms"
)


_FIELDS = [column.strip() for column in _INCIDENT_COLUMNS.split(",")[1:]]
# Built once from the fixed column list above; no user input reaches these strings.
_INSERT_INCIDENT = (
    f"INSERT INTO incidents ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"  # noqa: S608
)
_UPDATE_INCIDENT = f"UPDATE incidents SET {', '.join(f + ' = ?' for f in _FIELDS)} WHERE id = ?"  # noqa: S608
_SELECT_INCIDENTS = f"SELECT {_INCIDENT_COLUMNS} FROM incidents"  # noqa: S608


def _ms(ts: datetime | None) -> int | None:
    return None if ts is None else to_ms(ts)


def _dt(ms: object) -> datetime | None:
    return from_ms(ms) if isinstance(ms, int) else None


def _incident_row(incident: Incident) -> tuple[object, ...]:
    return (
        incident.room,
        incident.condition.value,
        to_ms(incident.opened_at),
        to_ms(incident.since),
        incident.value,
        incident.threshold,
        incident.worst,
        incident.minutes_to_cold,
        _ms(incident.notified_at),
        _ms(incident.last_push_at),
        incident.repeats,
        _ms(incident.escalated_at),
        _ms(incident.acked_at),
        incident.acked_by,
        incident.acked_via,
        incident.rearm_from,
        _ms(incident.snoozed_until),
        int(incident.held),
        _ms(incident.resolved_at),
    )


def _incident(row: tuple[Any, ...]) -> Incident:
    return Incident(
        id=row[0],
        room=row[1],
        condition=Condition(row[2]),
        opened_at=from_ms(row[3]),
        since=from_ms(row[4]),
        value=row[5],
        threshold=row[6],
        worst=row[7],
        minutes_to_cold=row[8],
        notified_at=_dt(row[9]),
        last_push_at=_dt(row[10]),
        repeats=row[11],
        escalated_at=_dt(row[12]),
        acked_at=_dt(row[13]),
        acked_by=row[14],
        acked_via=row[15],
        rearm_from=row[16],
        snoozed_until=_dt(row[17]),
        held=bool(row[18]),
        resolved_at=_dt(row[19]),
    )


# One upsert per room-hour a batch touches; a late reading (an outbox replay) adds to its
# own hour, wherever that is.
_UPSERT_HOUR = (
    "INSERT INTO hourly (room_id, hour_ms, count, temperature_sum, temperature_min,"
    " temperature_max, humidity_sum, humidity_min, humidity_max)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (room_id, hour_ms) DO UPDATE SET"
    " count = count + excluded.count,"
    " temperature_sum = temperature_sum + excluded.temperature_sum,"
    " temperature_min = min(temperature_min, excluded.temperature_min),"
    " temperature_max = max(temperature_max, excluded.temperature_max),"
    " humidity_sum = humidity_sum + excluded.humidity_sum,"
    " humidity_min = min(humidity_min, excluded.humidity_min),"
    " humidity_max = max(humidity_max, excluded.humidity_max)"
)
# The same sums over raw readings, in buckets of a fixed width aligned to the epoch: what
# a chart would have to compute on the fly without the rollup.
_BUCKET_COLUMNS = (
    "count(*), sum(temperature_c), min(temperature_c), max(temperature_c),"
    " sum(humidity_pct), min(humidity_pct), max(humidity_pct)"
)

_BACKFILL_HOURS = (
    "INSERT INTO hourly (room_id, hour_ms, count, temperature_sum, temperature_min,"  # noqa: S608
    " temperature_max, humidity_sum, humidity_min, humidity_max)"
    f" SELECT room_id, ts_ms - ts_ms % ?, {_BUCKET_COLUMNS} FROM readings"
    " WHERE room_id = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY 2"
)

# The hourly rollup added up over the stretches between consecutive bounds (a JSON array):
# one index range scan per stretch, so a year of days costs a few hundred short lookups.
_SUM_HOURS = (
    "WITH spans(start, stop) AS (SELECT value, lead(value) OVER (ORDER BY key)"
    " FROM json_each(?))"
    " SELECT spans.start, sum(count), sum(temperature_sum), min(temperature_min),"
    " max(temperature_max), sum(humidity_sum), min(humidity_min), max(humidity_max)"
    " FROM spans JOIN hourly ON hourly.room_id = ?"
    " AND hourly.hour_ms >= spans.start AND hourly.hour_ms < spans.stop"
    " GROUP BY spans.start ORDER BY spans.start"
)


def hour_of(ts_ms: int) -> int:
    """The start of the UTC hour a time (ms since the epoch) falls in."""
    return ts_ms - ts_ms % HOUR_MS


def to_ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class StoreError(NurseryError):
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
class Bucket:
    """Readings summed over a stretch of time from `start_ms`: one point of a chart.

    Sums rather than means, so buckets add up (hours into days) without losing weight.
    """

    start_ms: int
    count: int
    temperature_sum: float
    temperature_min: float
    temperature_max: float
    humidity_sum: float
    humidity_min: float
    humidity_max: float


@dataclass(frozen=True, slots=True)
class Received:
    """A validated reading with the hub's receive time."""

    reading: ReadingMessage
    received_at: datetime


def _hourly_sums(
    rows: Sequence[tuple[int, int, int, int, int, float, float]],
) -> list[tuple[int, int, int, float, float, float, float, float, float]]:
    """The batch's new readings (as inserted) summed per room-hour, for _UPSERT_HOUR."""
    if not rows:
        return []
    _, _, room_ids, stamps, _, temps, hums = zip(*rows, strict=True)
    first = min(stamps)
    hour = first - first % HOUR_MS
    if max(stamps) < hour + HOUR_MS and room_ids.count(room_ids[0]) == len(room_ids):
        # The usual batch: one room, one hour. Builtins over columns, no loop per reading.
        return [
            (
                room_ids[0],
                hour,
                len(rows),
                sum(temps),
                min(temps),
                max(temps),
                sum(hums),
                min(hums),
                max(hums),
            )
        ]
    hours: dict[tuple[int, int], list[float]] = {}
    for _, _, room_id, ts_ms, _, t, h in rows:
        key = (room_id, ts_ms - ts_ms % HOUR_MS)
        acc = hours.get(key)
        if acc is None:
            hours[key] = [1, t, t, t, h, h, h]
            continue
        acc[0] += 1
        acc[1] += t
        if t < acc[2]:
            acc[2] = t
        elif t > acc[3]:
            acc[3] = t
        acc[4] += h
        if h < acc[5]:
            acc[5] = h
        elif h > acc[6]:
            acc[6] = h
    return [
        (room_id, hour, int(n), ts, tlo, thi, hs, hlo, hhi)
        for (room_id, hour), (n, ts, tlo, thi, hs, hlo, hhi) in hours.items()
    ]


class Store:
    """All reads and writes of the hub's SQLite file.

    One connection shared under a lock: the ingest thread writes in batches, HTTP handlers
    read. SQLite serialises writers anyway, and one connection keeps memory small on a Pi.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """`read_only`: only read an existing file, as a tool beside the running hub does
        (no schema, no upgrade, nothing written)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._room_ids: dict[str, int] = {}
        self._boot_ids: dict[tuple[int, str], int] = {}
        self._floors: dict[int, dict[str, int]] = {}  # room id -> the firmware's floor
        if read_only:
            try:
                self._db = connect_read_only(self.path)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot read database {self.path}: {exc}") from exc
            return
        try:
            self._db = connect_private(self.path)  # 0600 whatever the umask, WAL, NORMAL
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
            self._backfill_rollups()
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    def _add_missing_columns(self) -> None:
        """Columns added since a database was created (SQLite keeps the old table)."""
        added = {
            "rooms": (("health_json", "TEXT"), ("health_at_ms", "INTEGER")),
            "boots": (("contiguous_seq", "INTEGER NOT NULL DEFAULT -1"),),
        }
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table, columns in added.items():
                have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                for column, kind in columns:
                    if column not in have:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                        if table == "boots":
                            self._backfill_marks()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _backfill_marks(self) -> None:
        """A database from before receipts: count each boot's marks once, from seq 0."""
        boots = [int(row[0]) for row in self._db.execute("SELECT id FROM boots")]
        for boot in boots:
            self._db.execute(
                "UPDATE boots SET contiguous_seq = ? WHERE id = ?",
                (self._contiguous_from(self._db, boot, -1), boot),
            )

    def _backfill_rollups(self) -> None:
        """A database from before rollups: build them from its readings, once.

        One transaction with the mark that says it is done, so a backfill cut short (power,
        kill) leaves nothing half-counted and simply runs again at the next start.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            done = self._db.execute("SELECT 1 FROM meta WHERE key = ?", (_ROLLUP_MARK,))
            if done.fetchone() is None:
                self._rebuild_rollups()
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", (_ROLLUP_MARK, "done")
                )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _rebuild_rollups(self) -> None:
        db = self._db
        db.execute("DELETE FROM hourly")
        total = int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
        if total == 0:
            return
        loud = total >= BACKFILL_LOG_READINGS
        if loud:
            log.info("building hourly rollups from %s stored readings (once)", f"{total:,}")
        started = time.monotonic()
        done = 0
        step = BACKFILL_STEP_HOURS * HOUR_MS
        rooms = db.execute(
            "SELECT room_id, min(ts_ms), max(ts_ms) FROM readings GROUP BY room_id"
        ).fetchall()
        for room_id, first, last in rooms:
            # Steps start on whole hours, so no hour is split between two of them.
            for lo in range(hour_of(first), last + 1, step):
                db.execute(_BACKFILL_HOURS, (HOUR_MS, room_id, lo, lo + step))
                done += int(
                    db.execute(
                        "SELECT total(count) FROM hourly"
                        " WHERE room_id = ? AND hour_ms >= ? AND hour_ms < ?",
                        (room_id, lo, lo + step),
                    ).fetchone()[0]
                )
                if loud:
                    log.info(
                        "hourly rollups: %s of %s readings (%d %%)",
                        f"{done:,}",
                        f"{total:,}",
                        100 * done // total,
                    )
        hours = int(db.execute("SELECT count(*) FROM hourly").fetchone()[0])
        log.info(
            "hourly rollups built: %s readings into %s room-hours in %.1f s",
            f"{done:,}",
            f"{hours:,}",
            time.monotonic() - started,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

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

    def add_readings(self, batch: Iterable[Received]) -> list[Received]:
        """Store a batch in one commit; returns the new ones (redeliveries are not).

        One range query per boot finds what is already stored, then one executemany
        inserts the rest: a backlog drains at tens of thousands of readings a second.
        """
        with self._tx() as db:
            last_seen: dict[int, int] = {}
            by_boot: dict[int, list[Received]] = {}
            touched: dict[int, tuple[int, str]] = {}
            for item in batch:
                reading = item.reading
                room_id = self._room_id(db, reading.room)
                boot = self._boot(db, room_id, reading.boot_id)
                touched[boot] = (room_id, reading.boot_id)
                by_boot.setdefault(boot, []).append(item)
                received_ms = to_ms(item.received_at)
                last_seen[room_id] = max(received_ms, last_seen.get(room_id, 0))
            inserted: list[Received] = []
            rows: list[tuple[int, int, int, int, int, float, float]] = []
            for boot, items in by_boot.items():
                seqs = [item.reading.seq for item in items]
                have = {
                    int(row[0])
                    for row in db.execute(
                        "SELECT seq FROM readings WHERE boot = ? AND seq BETWEEN ? AND ?",
                        (boot, min(seqs), max(seqs)),
                    )
                }
                room_id = touched[boot][0]
                for item in items:
                    reading = item.reading
                    if reading.seq in have:
                        continue
                    have.add(reading.seq)  # a second copy within the batch is a duplicate
                    inserted.append(item)
                    rows.append(
                        (
                            boot,
                            reading.seq,
                            room_id,
                            to_ms(reading.ts),
                            to_ms(item.received_at),
                            reading.temperature_c,
                            reading.humidity_pct,
                        )
                    )
            db.executemany(
                "INSERT INTO readings (boot, seq, room_id, ts_ms, received_ms,"
                " temperature_c, humidity_pct) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(_UPSERT_HOUR, _hourly_sums(rows))
            for room_id, seen_ms in last_seen.items():
                db.execute(
                    "UPDATE rooms SET last_seen_ms = max(coalesce(last_seen_ms, 0), ?)"
                    " WHERE id = ?",
                    (seen_ms, room_id),
                )
            for boot, (room_id, boot_id) in touched.items():
                floor = self._floor(db, room_id).get(boot_id)
                self._advance_mark(db, boot, floor)
            return inserted

    # --- receipts: how far each boot is stored without a gap --------------------------

    def sync(self) -> None:
        """Make every commit so far survive a power cut: fsync the WAL.

        Commits use synchronous=NORMAL (no fsync each; SD cards wear), so the last ones may
        roll back after a power cut. Ingest calls this before it tells a firmware, by a
        receipt, that it may forget readings: what was not yet synced is still held on
        the Pi and sent again.
        """
        if str(self.path) == ":memory:":
            return
        # No lock: fsync does not touch the connection, and readers need not wait for it.
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # no WAL: everything is in the database file, synced at checkpoint
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    _MARK_CHUNK = 1024

    def _contiguous_from(self, db: sqlite3.Connection, boot: int, mark: int) -> int:
        """The highest seq reached from `mark` through stored readings without a gap: a
        range scan of the primary key, in chunks, stopping at the first hole."""
        while True:
            seqs = [
                int(row[0])
                for row in db.execute(
                    "SELECT seq FROM readings WHERE boot = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (boot, mark, self._MARK_CHUNK),
                )
            ]
            for seq in seqs:
                if seq != mark + 1:
                    return mark
                mark = seq
            if len(seqs) < self._MARK_CHUNK:
                return mark

    def _advance_mark(self, db: sqlite3.Connection, boot: int, floor: int | None) -> None:
        """Move the boot's mark past what is now stored, and past the firmware's floor
        (below it nothing will ever come: confirmed, or dropped by its outbox's cap)."""
        row = db.execute("SELECT contiguous_seq FROM boots WHERE id = ?", (boot,)).fetchone()
        old = int(row[0])
        mark = old if floor is None else max(old, floor - 1)
        mark = self._contiguous_from(db, boot, mark)
        if mark != old:
            db.execute("UPDATE boots SET contiguous_seq = ? WHERE id = ?", (mark, boot))

    def _floor(self, db: sqlite3.Connection, room_id: int) -> dict[str, int]:
        floor = self._floors.get(room_id)
        if floor is None:
            row = db.execute("SELECT health_json FROM rooms WHERE id = ?", (room_id,)).fetchone()
            floor = {}
            if row is not None and row[0] is not None:
                try:
                    floor = HealthMessage.decode(str(row[0]).encode()).floor
                except ContractError:
                    floor = {}
            self._floors[room_id] = floor
        return floor

    def receipt(self, room: str, recent: int = 16, most: int = 64) -> dict[str, int]:
        """What the hub tells the room's firmware it has stored: for the `recent` newest
        boots and the boots the firmware says it still holds (oldest first, up to `most`
        in all, the contract's limit), the contiguous mark."""
        with self._lock:
            row = self._db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()
            if row is None:
                return {}
            room_id = int(row[0])
            marks = {
                str(boot_id): int(mark)
                for boot_id, mark in self._db.execute(
                    "SELECT boot_id, contiguous_seq FROM boots WHERE room_id = ?"
                    " ORDER BY id DESC LIMIT ?",
                    (room_id, recent),
                )
            }
            held = [b for b in self._floor(self._db, room_id) if b not in marks]
            for boot_id in held[: max(0, most - len(marks))]:
                found = self._db.execute(
                    "SELECT contiguous_seq FROM boots WHERE room_id = ? AND boot_id = ?",
                    (room_id, boot_id),
                ).fetchone()
                if found is not None:
                    marks[boot_id] = int(found[0])
            return marks

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

    def save_incidents(self, incidents: Iterable[Incident]) -> list[Incident]:
        """Insert new incidents and update known ones in one commit; returns them with ids."""
        saved: list[Incident] = []
        with self._tx() as db:
            for incident in incidents:
                row = _incident_row(incident)
                if incident.id is None:
                    cursor = db.execute(_INSERT_INCIDENT, row)
                    incident = replace(incident, id=cursor.lastrowid)
                else:
                    db.execute(_UPDATE_INCIDENT, (*row, incident.id))
                saved.append(incident)
        return saved

    def secret(self, name: str) -> str:
        """A random secret kept in the database (0600), made on first use."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            if row is not None:
                return str(row[0])
            value = secrets.token_urlsafe(32)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, value))
            return value

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

    # --- reads ----------------------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS + " WHERE resolved_at_ms IS NULL ORDER BY id"
            ).fetchall()
        return [_incident(row) for row in rows]

    def incident(self, incident_id: int) -> Incident | None:
        if not 0 < incident_id < 2**63:
            return None  # no such row can exist, and SQLite would raise OverflowError
        with self._lock:
            row = self._db.execute(
                _SELECT_INCIDENTS + " WHERE id = ?",
                (incident_id,),
            ).fetchone()
        return None if row is None else _incident(row)

    def recent_incidents(self, since: datetime, limit: int = 100) -> list[Incident]:
        """Open incidents and those opened or resolved since `since`, newest first."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS
                + " WHERE resolved_at_ms IS NULL OR resolved_at_ms >= ? OR opened_at_ms >= ?"
                " ORDER BY opened_at_ms DESC, id DESC LIMIT ?",
                (to_ms(since), to_ms(since), limit),
            ).fetchall()
        return [_incident(row) for row in rows]

    def recent_readings(self, room: str, since: datetime) -> list[LatestReading]:
        """The room's readings received since a time, in the order they arrived, with their
        boot and seq: to rebuild the rules' memory after a restart as ingest fed it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ts_ms, temperature_c, humidity_pct, boots.boot_id, seq, received_ms"
                " FROM readings JOIN rooms ON rooms.id = readings.room_id"
                " JOIN boots ON boots.id = readings.boot"
                " WHERE rooms.name = ? AND received_ms >= ? ORDER BY received_ms, boot, seq",
                (room, to_ms(since)),
            ).fetchall()
        return [
            LatestReading(
                ts=from_ms(ts),
                temperature_c=t,
                humidity_pct=h,
                boot_id=boot_id,
                seq=seq,
                received_at=from_ms(received),
            )
            for ts, t, h, boot_id, seq, received in rows
        ]

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

    # --- chart history: raw buckets, hourly rollups, alert periods ---------------------

    def _find_room(self, room: str) -> int | None:
        row = self._db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()
        return None if row is None else int(row[0])

    def readings_as_buckets(
        self, room: str, since: datetime, until: datetime, limit: int
    ) -> list[Bucket]:
        """Up to `limit` readings in [since, until], oldest first, each a bucket of one."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return []
            rows = self._db.execute(
                "SELECT ts_ms, 1, temperature_c, temperature_c, temperature_c,"
                " humidity_pct, humidity_pct, humidity_pct FROM readings"
                " WHERE room_id = ? AND ts_ms BETWEEN ? AND ? ORDER BY ts_ms LIMIT ?",
                (room_id, to_ms(since), to_ms(until), limit),
            ).fetchall()
        return [Bucket(*row) for row in rows]

    def buckets(self, room: str, since: datetime, until: datetime, width_ms: int) -> list[Bucket]:
        """The room's readings in [since, until] summed over the raw rows, in buckets of
        `width_ms` aligned to the epoch (whole minutes, hours, UTC days)."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return []
            rows = self._db.execute(
                f"SELECT ts_ms - ts_ms % ?, {_BUCKET_COLUMNS} FROM readings"  # noqa: S608
                " WHERE room_id = ? AND ts_ms BETWEEN ? AND ? GROUP BY 1 ORDER BY 1",
                (width_ms, room_id, to_ms(since), to_ms(until)),
            ).fetchall()
        return [Bucket(*row) for row in rows]

    def hourly(self, room: str, since: datetime, until: datetime) -> list[Bucket]:
        """The room's hourly rollup for the hours that overlap [since, until], oldest first."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return []
            rows = self._db.execute(
                "SELECT hour_ms, count, temperature_sum, temperature_min, temperature_max,"
                " humidity_sum, humidity_min, humidity_max FROM hourly"
                " WHERE room_id = ? AND hour_ms BETWEEN ? AND ? ORDER BY hour_ms",
                (room_id, hour_of(to_ms(since)), to_ms(until)),
            ).fetchall()
        return [Bucket(*row) for row in rows]

    def hourly_sums(self, room: str, bounds: Sequence[int]) -> list[Bucket]:
        """The hourly rollup added up between consecutive `bounds` (ms, ascending), e.g.
        local midnights: an hour counts where its start falls; empty stretches are left out."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None or len(bounds) < 2:
                return []
            rows = self._db.execute(_SUM_HOURS, (json.dumps(list(bounds)), room_id)).fetchall()
        return [Bucket(*row) for row in rows]

    def newest_reading_at(self, room: str, since: datetime, until: datetime) -> datetime | None:
        """The time of the room's newest reading in [since, until]: where a chart ends."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return None
            row = self._db.execute(
                "SELECT max(ts_ms) FROM readings WHERE room_id = ? AND ts_ms BETWEEN ? AND ?",
                (room_id, to_ms(since), to_ms(until)),
            ).fetchone()
        return None if row[0] is None else from_ms(int(row[0]))

    def incidents_between(
        self, room: str, since: datetime, until: datetime, limit: int = 500
    ) -> list[Incident]:
        """The room's alerts open at any time in [since, until], oldest first; the newest
        `limit` when there are more."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS + " WHERE room = ? AND opened_at_ms <= ?"
                " AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?)"
                " ORDER BY opened_at_ms DESC, id DESC LIMIT ?",
                (room, to_ms(until), to_ms(since), limit),
            ).fetchall()
        return [_incident(row) for row in reversed(rows)]
