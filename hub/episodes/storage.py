"""The episode tables' reads and writes, on a connection of their own: health data, so
fsynced, overwritten when erased, and deleted softly for an undo window."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from contract.errors import NurseryError
from hub.episodes.model import (
    Details,
    Episode,
    NewEpisode,
    Snapshot,
    Timing,
)
from hub.episodes.tables import (
    INSERT,
    SELECT,
    UPDATE,
    episode_from_row,
    episode_row,
    open_tables,
)
from hub.store.dbfile import connect_private
from hub.store.records import to_ms

UNDO_WINDOW: Final = timedelta(hours=24)


class EpisodeStoreError(NurseryError):
    """The episode tables cannot be opened or written; the message says which file."""


class NotFound(NurseryError, LookupError):
    """No episode with that id (or it was erased after its undo window)."""


Check = Callable[[Sequence[Episode]], Timing]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An episode-button event as stored: its outcome, and the episode it touched."""

    event_id: str
    outcome: str
    episode_id: int | None
    duplicate: bool


class EpisodeStore:
    """All reads and writes of the episode tables. One connection, used by one caller at
    a time (each request and the ingest thread open their own).

    The file is created 0600 and deleted rows are overwritten (secure_delete). A delete is
    soft so the parent can undo it; after UNDO_WINDOW the row is erased for good. Episodes
    are rare and precious, so their commits are fsynced (synchronous=FULL).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            # Private (0600), WAL, a 10 s busy timeout, without touching the hub's locks.
            self._db = connect_private(self.path)
            self._db.execute("PRAGMA synchronous=FULL")  # health data: every commit, fsynced
            self._db.execute("PRAGMA secure_delete=ON")
            open_tables(self._db)
        except (OSError, sqlite3.Error) as exc:
            raise EpisodeStoreError(f"cannot open the episode log in {self.path}: {exc}") from exc

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
        return [episode_from_row(row) for row in rows]

    @staticmethod
    def _neighbours(db: sqlite3.Connection, room: str) -> list[Episode]:
        """Every live episode in the room: few enough per room to check in full."""
        rows = db.execute(
            SELECT + " WHERE room = ? AND deleted_at_ms IS NULL ORDER BY started_at_ms",
            (room,),
        ).fetchall()
        return [episode_from_row(row) for row in rows]

    @staticmethod
    def _one(db: sqlite3.Connection, episode_id: int) -> Episode:
        if not 0 < episode_id < 2**63:  # no such row; SQLite would raise OverflowError
            raise NotFound(f"no episode #{episode_id}")
        row = db.execute(SELECT + " WHERE id = ?", (episode_id,)).fetchone()
        if row is None:
            raise NotFound(f"no episode #{episode_id}")
        return episode_from_row(row)

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
                INSERT,
                (
                    *episode_row(timing, new.details, snapshot),
                    new.source,
                    by,
                    to_ms(now),
                    by,
                    to_ms(now),
                ),
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
            db.execute(
                UPDATE, (*episode_row(checked, details, snapshot), by, to_ms(now), episode_id)
            )
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
            INSERT,
            (
                *episode_row(timing, new.details, snapshot),
                new.source,
                None,
                to_ms(now),
                None,
                to_ms(now),
            ),
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
        found = self._read(SELECT + " WHERE id = ?", (episode_id,))
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
            SELECT + " WHERE started_at_ms <= ?"
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
        sql = SELECT + " WHERE timed = 1 AND ended_at_ms IS NULL AND deleted_at_ms IS NULL"
        if room is None:
            return self._read(sql + " ORDER BY started_at_ms")
        return self._read(sql + " AND room = ?", (room,))

    def event(self, event_id: str) -> EventRecord | None:
        row = self._db.execute(
            "SELECT outcome, episode_id FROM episode_events WHERE event_id = ?", (event_id,)
        ).fetchone()
        return None if row is None else EventRecord(event_id, str(row[0]), row[1], True)
