"""What every part of the Store shares: one connection, its lock, and the room ids."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from hub.store.dbfile import write_transaction


class StorePart:
    """The base of each table's part; `Store` (hub/store/database.py) opens the file.

    One connection shared under a lock: the ingest thread writes in batches, HTTP handlers
    read. SQLite serialises writers anyway, and one connection keeps memory small on a Pi.
    """

    path: Path
    _db: sqlite3.Connection
    _lock: threading.Lock
    _room_ids: dict[str, int]
    _boot_ids: dict[tuple[int, str], int]
    _floors: dict[int, dict[str, int]]  # room id -> the firmware's floor

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    def _room_id(self, db: sqlite3.Connection, name: str) -> int:
        """The room's id, adding the room on first sight (inside a write transaction)."""
        room_id = self._room_ids.get(name)
        if room_id is None:
            db.execute("INSERT OR IGNORE INTO rooms (name) VALUES (?)", (name,))
            row = db.execute("SELECT id FROM rooms WHERE name = ?", (name,)).fetchone()
            room_id = int(row[0])
            self._room_ids[name] = room_id
        return room_id

    def _find_room(self, room: str) -> int | None:
        """The room's id, or None for a room never seen (under the lock). Rooms are never
        removed or renamed, so an id once found is kept: a receipt asks on every reading."""
        room_id = self._room_ids.get(room)
        if room_id is None:
            row = self._db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()
            if row is None:
                return None
            room_id = self._room_ids[room] = int(row[0])
        return room_id
