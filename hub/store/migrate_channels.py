"""Migration 4: each push channel's last delivery, failure and test, kept past the outbox's
pruning, so a channel that stopped working is seen even in a quiet week."""

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


def add_channel_health(db: sqlite3.Connection) -> None:
    """4: the channel_health table (one row per Apprise URL, written by every real send)."""
    db.execute(CHANNEL_HEALTH_SCHEMA)
