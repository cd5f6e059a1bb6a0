"""Receipts: how far each boot's readings are stored without a gap, and making it durable."""

from __future__ import annotations

import os
import sqlite3

from contract.messages import HealthMessage
from contract.topics import ContractError
from hub.store.part import StorePart

# Marks move by range scans of the readings' primary key, this many seqs at a time.
MARK_CHUNK = 1024


def contiguous_from(db: sqlite3.Connection, boot: int, mark: int) -> int:
    """The highest seq reached from `mark` through stored readings without a gap: a
    range scan of the primary key, in chunks, stopping at the first hole."""
    while True:
        seqs = [
            int(row[0])
            for row in db.execute(
                "SELECT seq FROM readings WHERE boot = ? AND seq > ? ORDER BY seq LIMIT ?",
                (boot, mark, MARK_CHUNK),
            )
        ]
        for seq in seqs:
            if seq != mark + 1:
                return mark
            mark = seq
        if len(seqs) < MARK_CHUNK:
            return mark


class Receipts(StorePart):
    """The boots' contiguous marks, which the hub sends each firmware as its receipt."""

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

    def _advance_mark(self, db: sqlite3.Connection, boot: int, floor: int | None) -> None:
        """Move the boot's mark past what is now stored, and past the firmware's floor
        (below it nothing will ever come: confirmed, or dropped by its outbox's cap)."""
        row = db.execute("SELECT contiguous_seq FROM boots WHERE id = ?", (boot,)).fetchone()
        old = int(row[0])
        mark = old if floor is None else max(old, floor - 1)
        mark = contiguous_from(db, boot, mark)
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
            room_id = self._find_room(room)
            if room_id is None:
                return {}
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
