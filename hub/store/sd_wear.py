"""What the hub writes to its SD card per reading stored, as bench/sd_wear.py measured it, so
`nursery status` can say how much a day the card takes."""

from __future__ import annotations

import sqlite3
from typing import Final

# Bytes written to storage per reading stored: the hub's WAL and -shm writes with the
# fsync before each receipt, plus the checkpoint into the database file, over a window
# of one room at the default interval (10 s), divided by the readings stored in it.
# Logs are not counted. bench/RESULTS.md gives the run (2026-12-05: 282.5 MB a day);
# measure again after a change to what a reading writes.
BYTES_PER_READING: Final = 32_700


def bytes_a_day(readings_a_day: int) -> int:
    """The card's daily writes for this many readings a day."""
    return readings_a_day * BYTES_PER_READING


def readings_since(db: sqlite3.Connection, since_ms: int) -> int:
    """Readings taken since `since_ms`, room by room so each count is an index range."""
    rooms = [int(row[0]) for row in db.execute("SELECT id FROM rooms")]
    return sum(
        int(
            db.execute(
                "SELECT count(*) FROM readings WHERE room_id = ? AND ts_ms >= ?",
                (room, since_ms),
            ).fetchone()[0]
        )
        for room in rooms
    )
