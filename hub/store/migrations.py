"""The store's schema and its numbered migrations: a file an earlier hub made is upgraded
in place when the hub opens it."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Final

from hub.store.migrate_channels import add_channel_health
from hub.store.receipts import contiguous_from
from hub.store.records import HOUR_MS, hour_of
from hub.store.rollups import BUCKET_COLUMNS

log = logging.getLogger("nursery.hub.store")

# Rollups are rebuilt from the readings once (after an upgrade), in steps of this many
# hours, with a progress line per step when there are at least BACKFILL_LOG_READINGS.
BACKFILL_STEP_HOURS = 30 * 24
BACKFILL_LOG_READINGS = 100_000
_ROLLUP_MARK = "rollup.hourly"

# The tables as this version creates them; a table an older hub made keeps its columns
# until a migration below adds the missing ones.
SCHEMA: Final = """
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

_BACKFILL_HOURS = (
    "INSERT INTO hourly (room_id, hour_ms, count, temperature_sum, temperature_min,"  # noqa: S608
    " temperature_max, humidity_sum, humidity_min, humidity_max)"
    f" SELECT room_id, ts_ms - ts_ms % ?, {BUCKET_COLUMNS} FROM readings"
    " WHERE room_id = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY 2"
)


def _transaction(db: sqlite3.Connection, step: Callable[[sqlite3.Connection], None]) -> None:
    """Run one migration in a write transaction of its own: all of it, or none of it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        step(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def add_receipt_columns(db: sqlite3.Connection) -> None:
    """2: firmware health on rooms, and each boot's contiguous mark (the receipts)."""
    added = {
        "rooms": (("health_json", "TEXT"), ("health_at_ms", "INTEGER")),
        "boots": (("contiguous_seq", "INTEGER NOT NULL DEFAULT -1"),),
    }
    for table, columns in added.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, kind in columns:
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                if table == "boots":
                    _backfill_marks(db)


def _backfill_marks(db: sqlite3.Connection) -> None:
    """A database from before receipts: count each boot's marks once, from seq 0."""
    boots = [int(row[0]) for row in db.execute("SELECT id FROM boots")]
    for boot in boots:
        db.execute(
            "UPDATE boots SET contiguous_seq = ? WHERE id = ?",
            (contiguous_from(db, boot, -1), boot),
        )


def backfill_rollups(db: sqlite3.Connection) -> None:
    """3: a database from before rollups gets them built from its readings, once.

    In one transaction with the mark that says it is done, so a backfill cut short (power,
    kill) leaves nothing half-counted and simply runs again at the next start.
    """
    done = db.execute("SELECT 1 FROM meta WHERE key = ?", (_ROLLUP_MARK,))
    if done.fetchone() is None:
        _rebuild_rollups(db)
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_ROLLUP_MARK, "done"))


def _rebuild_rollups(db: sqlite3.Connection) -> None:
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


# After version 1 (the first release's tables), in order; the file's user_version ends at
# the last number. Each step looks at the file itself (a column, a mark) rather than at
# user_version, so a half-upgraded file, or one with a column dropped by hand, still comes
# right; a step with nothing to do costs a query.
MIGRATIONS: Final[tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...]] = (
    (2, add_receipt_columns),
    (3, backfill_rollups),
    (4, add_channel_health),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection) -> None:
    """Bring an open store file up to SCHEMA_VERSION: the missing tables first, then each
    migration in a transaction of its own. Raises sqlite3.Error."""
    db.executescript(SCHEMA)
    for _number, step in MIGRATIONS:
        _transaction(db, step)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
