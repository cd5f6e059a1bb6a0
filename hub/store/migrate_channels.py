"""Migration 5, the first run's tables: each push channel's last delivery, failure and test
(kept past the outbox's pruning), and the names the caregivers gave their rooms."""

from __future__ import annotations

import sqlite3

CHANNEL_HEALTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_health (
    url TEXT PRIMARY KEY,
    delivered_at_ms INTEGER,
    failed_at_ms INTEGER,
    failing_since_ms INTEGER,
    last_error TEXT,
    tested_at_ms INTEGER,
    told_at_ms INTEGER
)
"""

ROOM_NAMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS room_names (room TEXT PRIMARY KEY, name TEXT NOT NULL)
"""


def add_channel_health(db: sqlite3.Connection) -> None:
    """5: channel_health (one row per Apprise URL, written by every real send) and
    room_names (a room's name in words, as the first run's "Name the room" saved it)."""
    db.execute(CHANNEL_HEALTH_SCHEMA)
    db.execute(ROOM_NAMES_SCHEMA)
