"""The episode log's tables in the hub's SQLite file, on a connection of its own.

Health data: the file is created 0600 and deleted rows are overwritten (secure_delete). A
delete is soft so the parent can undo it; after UNDO_WINDOW the row is erased for good.
Episodes are rare and precious, so their commits are fsynced (synchronous=FULL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

from contract.errors import NurseryError
from hub.episodes.model import (
    LIMBS,
    WAKE_STATES,
    Details,
    Episode,
    NewEpisode,
    Snapshot,
    Source,
    Timing,
    WakeState,
)
from hub.store.dbfile import connect_private

UNDO_WINDOW: Final = timedelta(hours=24)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER,
    timed INTEGER NOT NULL,
    limbs TEXT NOT NULL DEFAULT '',
    alert INTEGER,
    state TEXT,
    cluster INTEGER NOT NULL DEFAULT 0,
    jerks INTEGER,
    fever INTEGER NOT NULL DEFAULT 0,
    fever_c REAL,
    vomiting INTEGER NOT NULL DEFAULT 0,
    poor_feeding INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created_by INTEGER,
    created_at_ms INTEGER NOT NULL,
    updated_by INTEGER,
    updated_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER,
    snap_reading_at_ms INTEGER,
    snap_temperature_c REAL,
    snap_humidity_pct REAL,
    snap_lowest_c REAL,
    snap_trend_c_per_h REAL,
    snap_minutes_below_cold REAL,
    snap_cold_below_c REAL,
    snap_cold_alert_open INTEGER,
    snap_readings INTEGER,
    floppy INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS episodes_by_start ON episodes (started_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS one_running_episode_per_room ON episodes (room)
    WHERE timed = 1 AND ended_at_ms IS NULL AND deleted_at_ms IS NULL;
CREATE TABLE IF NOT EXISTS episode_events (
    event_id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    action TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    episode_id INTEGER,
    outcome TEXT NOT NULL
);
"""

_COLUMNS: Final = (
    "id, room, started_at_ms, ended_at_ms, timed, limbs, alert, state, cluster, jerks, fever,"
    " fever_c, vomiting, poor_feeding, notes, source, created_at_ms, updated_at_ms,"
    " deleted_at_ms, snap_reading_at_ms, snap_temperature_c, snap_humidity_pct, snap_lowest_c,"
    " snap_trend_c_per_h, snap_minutes_below_cold, snap_cold_below_c, snap_cold_alert_open,"
    " snap_readings, floppy"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM episodes"  # noqa: S608 - a fixed column list
_WRITTEN: Final = (
    "room",
    "started_at_ms",
    "ended_at_ms",
    "timed",
    "limbs",
    "alert",
    "state",
    "cluster",
    "jerks",
    "fever",
    "fever_c",
    "vomiting",
    "poor_feeding",
    "notes",
    "snap_reading_at_ms",
    "snap_temperature_c",
    "snap_humidity_pct",
    "snap_lowest_c",
    "snap_trend_c_per_h",
    "snap_minutes_below_cold",
    "snap_cold_below_c",
    "snap_cold_alert_open",
    "snap_readings",
    "floppy",
)
_INSERT: Final = (
    f"INSERT INTO episodes ({', '.join(_WRITTEN)}, source, created_by, created_at_ms,"  # noqa: S608
    f" updated_by, updated_at_ms) VALUES ({', '.join('?' * (len(_WRITTEN) + 5))})"
)
_UPDATE: Final = (
    f"UPDATE episodes SET {', '.join(c + ' = ?' for c in _WRITTEN)},"  # noqa: S608
    " updated_by = ?, updated_at_ms = ? WHERE id = ?"
)

_NAMES: Final = ("episodes", "episode_events", "one_running_episode_per_room")
# Columns added after the first release, for logs created before them (name, definition).
_ADDED_COLUMNS: Final = (("floppy", "INTEGER NOT NULL DEFAULT 0"),)


class EpisodeStoreError(NurseryError):
    """The episode tables cannot be opened or written; the message says which file."""


class NotFound(NurseryError, LookupError):
    """No episode with that id (or it was erased after its undo window)."""


Check = Callable[[Sequence[Episode]], Timing]


def to_ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _opt_dt(ms: object) -> datetime | None:
    return from_ms(ms) if isinstance(ms, int) else None


def _opt_bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def _row(timing: Timing, details: Details, snapshot: Snapshot | None) -> tuple[object, ...]:
    snap: tuple[object, ...] = (None,) * 9
    if snapshot is not None:
        snap = (
            None if snapshot.reading_at is None else to_ms(snapshot.reading_at),
            snapshot.temperature_c,
            snapshot.humidity_pct,
            snapshot.lowest_c,
            snapshot.trend_c_per_h,
            snapshot.minutes_below_cold,
            snapshot.cold_below_c,
            int(snapshot.cold_alert_open),
            snapshot.readings,
        )
    return (
        timing.room,
        to_ms(timing.started_at),
        None if timing.ended_at is None else to_ms(timing.ended_at),
        int(timing.timed),
        ",".join(details.limbs),
        None if details.alert is None else int(details.alert),
        details.state,
        int(details.cluster),
        details.jerks,
        int(details.fever),
        details.fever_c,
        int(details.vomiting),
        int(details.poor_feeding),
        details.notes,
        *snap,
        int(details.floppy),
    )


def _episode(row: Sequence[Any]) -> Episode:
    (
        episode_id,
        room,
        started,
        ended,
        timed,
        limbs,
        alert,
        state,
        cluster,
        jerks,
        fever,
        fever_c,
        vomiting,
        poor_feeding,
        notes,
        source,
        created,
        updated,
        deleted,
        *snap,
        floppy,
    ) = row
    snapshot = None
    if snap[6] is not None:  # cold_below_c is always set on a computed snapshot
        snapshot = Snapshot(
            reading_at=_opt_dt(snap[0]),
            temperature_c=snap[1],
            humidity_pct=snap[2],
            lowest_c=snap[3],
            trend_c_per_h=snap[4],
            minutes_below_cold=snap[5],
            cold_below_c=float(snap[6]),
            cold_alert_open=bool(snap[7]),
            readings=int(snap[8] or 0),
        )
    return Episode(
        id=int(episode_id),
        timing=Timing(str(room), from_ms(started), _opt_dt(ended), bool(timed)),
        details=Details(
            limbs=tuple(x for x in LIMBS if x in str(limbs).split(",")),
            alert=_opt_bool(alert),
            floppy=bool(floppy),
            state=cast(WakeState, state) if state in WAKE_STATES else None,
            cluster=bool(cluster),
            jerks=jerks,
            fever=bool(fever),
            fever_c=fever_c,
            vomiting=bool(vomiting),
            poor_feeding=bool(poor_feeding),
            notes=str(notes),
        ),
        snapshot=snapshot,
        source=cast(Source, source),
        created_at=from_ms(created),
        updated_at=from_ms(updated),
        deleted_at=_opt_dt(deleted),
    )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An episode-button event as stored: its outcome, and the episode it touched."""

    event_id: str
    outcome: str
    episode_id: int | None
    duplicate: bool


class EpisodeStore:
    """All reads and writes of the episode tables. One connection, used by one caller at
    a time (each request and the ingest thread open their own)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            # Private (0600), WAL, a 10 s busy timeout, without touching the hub's locks.
            self._db = connect_private(self.path)
            self._db.execute("PRAGMA synchronous=FULL")  # health data: every commit, fsynced
            self._db.execute("PRAGMA secure_delete=ON")
            # Each request opens its own connection: create the tables only when missing.
            have = {
                str(row[0])
                for row in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE name IN (?, ?, ?)", _NAMES
                )
            }
            if have != set(_NAMES):
                self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except (OSError, sqlite3.Error) as exc:
            raise EpisodeStoreError(f"cannot open the episode log in {self.path}: {exc}") from exc

    def _add_missing_columns(self) -> None:
        """A log written before a column existed gets it, with its default (nothing is
        rewritten: an old episode simply was not floppy as far as the log knows)."""
        have = {str(row[1]) for row in self._db.execute("PRAGMA table_info(episodes)")}
        for name, ddl in _ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE episodes ADD COLUMN {name} {ddl}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise EpisodeStoreError(f"cannot write the episode log: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise EpisodeStoreError(f"cannot write the episode log: {exc}") from exc

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[Episode]:
        try:
            rows = self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise EpisodeStoreError(f"cannot read the episode log: {exc}") from exc
        return [_episode(row) for row in rows]

    @staticmethod
    def _neighbours(db: sqlite3.Connection, room: str) -> list[Episode]:
        """Every live episode in the room: few enough per room to check in full."""
        rows = db.execute(
            _SELECT + " WHERE room = ? AND deleted_at_ms IS NULL ORDER BY started_at_ms",
            (room,),
        ).fetchall()
        return [_episode(row) for row in rows]

    @staticmethod
    def _one(db: sqlite3.Connection, episode_id: int) -> Episode:
        if not 0 < episode_id < 2**63:  # no such row; SQLite would raise OverflowError
            raise NotFound(f"no episode #{episode_id}")
        row = db.execute(_SELECT + " WHERE id = ?", (episode_id,)).fetchone()
        if row is None:
            raise NotFound(f"no episode #{episode_id}")
        return _episode(row)

    # --- writes ------------------------------------------------------------------

    def add(
        self,
        new: NewEpisode,
        snapshot: Snapshot | None,
        check: Check,
        now: datetime,
        by: int | None = None,
    ) -> Episode:
        """Insert after `check` (given the room's other episodes, inside the same write
        transaction, so two phones cannot both log overlapping episodes) passes."""
        with self._tx() as db:
            timing = check(self._neighbours(db, new.timing.room))
            cursor = db.execute(
                _INSERT,
                (*_row(timing, new.details, snapshot), new.source, by, to_ms(now), by, to_ms(now)),
            )
            self._purge(db, now)
            return self._one(db, int(cursor.lastrowid or 0))

    def replace(
        self,
        episode_id: int,
        timing: Timing,
        details: Details,
        snapshot: Snapshot | None,
        check: Check,
        now: datetime,
        by: int | None = None,
    ) -> Episode:
        with self._tx() as db:
            old = self._one(db, episode_id)
            if old.deleted_at is not None:
                raise NotFound(f"episode #{episode_id} is deleted; restore it first")
            checked = check(self._neighbours(db, timing.room))
            db.execute(_UPDATE, (*_row(checked, details, snapshot), by, to_ms(now), episode_id))
            return self._one(db, episode_id)

    def delete(self, episode_id: int, now: datetime) -> Episode:
        with self._tx() as db:
            self._one(db, episode_id)
            db.execute(
                "UPDATE episodes SET deleted_at_ms = coalesce(deleted_at_ms, ?) WHERE id = ?",
                (to_ms(now), episode_id),
            )
            self._purge(db, now)
            return self._one(db, episode_id)

    def restore(self, episode_id: int, check: Check, now: datetime) -> Episode:
        """Undo a delete, unless another episode has taken its time since."""
        with self._tx() as db:
            self._purge(db, now)
            episode = self._one(db, episode_id)
            if episode.deleted_at is None:
                return episode
            check(self._neighbours(db, episode.room))
            db.execute("UPDATE episodes SET deleted_at_ms = NULL WHERE id = ?", (episode_id,))
            return self._one(db, episode_id)

    @staticmethod
    def _purge(db: sqlite3.Connection, now: datetime) -> None:
        """Erase what was deleted longer ago than the undo window (secure_delete zeroes it)."""
        cutoff = to_ms(now - UNDO_WINDOW)
        db.execute(
            "UPDATE episode_events SET episode_id = NULL WHERE episode_id IN"
            " (SELECT id FROM episodes WHERE deleted_at_ms < ?)",
            (cutoff,),
        )
        db.execute("DELETE FROM episodes WHERE deleted_at_ms < ?", (cutoff,))

    def record_event(
        self,
        event_id: str,
        room: str,
        action: str,
        received_at: datetime,
        apply: Callable[[EpisodeStore], tuple[str, int | None]],
    ) -> EventRecord:
        """Run `apply` for a button event once: a redelivered event id returns the first
        outcome and changes nothing. `apply` runs inside the transaction."""
        with self._tx() as db:
            row = db.execute(
                "SELECT outcome, episode_id FROM episode_events WHERE event_id = ?", (event_id,)
            ).fetchone()
            if row is not None:
                return EventRecord(event_id, str(row[0]), row[1], duplicate=True)
            outcome, episode_id = apply(self)
            db.execute(
                "INSERT INTO episode_events (event_id, room, action, received_at_ms,"
                " episode_id, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                (event_id, room, action, to_ms(received_at), episode_id, outcome),
            )
            return EventRecord(event_id, outcome, episode_id, duplicate=False)

    # Used by `apply` inside record_event's transaction (no transaction of their own).

    def neighbours_in_tx(self, room: str) -> list[Episode]:
        return self._neighbours(self._db, room)

    def insert_in_tx(
        self, new: NewEpisode, timing: Timing, snapshot: Snapshot | None, now: datetime
    ) -> Episode:
        cursor = self._db.execute(
            _INSERT,
            (*_row(timing, new.details, snapshot), new.source, None, to_ms(now), None, to_ms(now)),
        )
        return self._one(self._db, int(cursor.lastrowid or 0))

    def end_in_tx(self, episode_id: int, ended_at: datetime, now: datetime) -> Episode:
        self._db.execute(
            "UPDATE episodes SET ended_at_ms = ?, updated_at_ms = ? WHERE id = ?",
            (to_ms(ended_at), to_ms(now), episode_id),
        )
        return self._one(self._db, episode_id)

    # --- reads -------------------------------------------------------------------

    def get(self, episode_id: int) -> Episode:
        if not 0 < episode_id < 2**63:  # no such row; SQLite would raise OverflowError
            raise NotFound(f"no episode #{episode_id}")
        found = self._read(_SELECT + " WHERE id = ?", (episode_id,))
        if not found:
            raise NotFound(f"no episode #{episode_id}")
        return found[0]

    def between(
        self,
        since: datetime,
        until: datetime,
        room: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[Episode]:
        """Episodes on the timeline between `since` and `until` (a running one reaches
        to now), oldest first."""
        sql = (
            _SELECT + " WHERE started_at_ms <= ?"
            " AND (coalesce(ended_at_ms, started_at_ms) >= ?"
            "      OR (timed = 1 AND ended_at_ms IS NULL))"
        )
        args: list[object] = [to_ms(until), to_ms(since)]
        if room is not None:
            sql += " AND room = ?"
            args.append(room)
        if not include_deleted:
            sql += " AND deleted_at_ms IS NULL"
        return self._read(sql + " ORDER BY started_at_ms, id", args)

    def running(self, room: str | None = None) -> list[Episode]:
        sql = _SELECT + " WHERE timed = 1 AND ended_at_ms IS NULL AND deleted_at_ms IS NULL"
        if room is None:
            return self._read(sql + " ORDER BY started_at_ms")
        return self._read(sql + " AND room = ?", (room,))

    def event(self, event_id: str) -> EventRecord | None:
        row = self._db.execute(
            "SELECT outcome, episode_id FROM episode_events WHERE event_id = ?", (event_id,)
        ).fetchone()
        return None if row is None else EventRecord(event_id, str(row[0]), row[1], True)
