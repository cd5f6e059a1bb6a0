"""One runner for every table's numbered migrations on PRAGMA user_version: a file an
earlier hub made is upgraded in place, first, and one from a newer hub is refused."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Final

from hub.store.migrate_channels import add_channel_health
from hub.store.receipts import contiguous_from
from hub.store.records import HOUR_MS, NewerDatabase, hour_of
from hub.store.rollups import BUCKET_COLUMNS
from hub.store.schema import SCHEMA

log = logging.getLogger("nursery.hub.store")

# Rollups are rebuilt from the readings once (after an upgrade), in steps of this many
# hours, with a progress line per step when there are at least BACKFILL_LOG_READINGS.
BACKFILL_STEP_HOURS = 30 * 24
BACKFILL_LOG_READINGS = 100_000
_ROLLUP_MARK = "rollup.hourly"

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
    if "boots" in _add_missing_columns(db, added):
        _backfill_marks(db)


Columns = Mapping[str, tuple[tuple[str, str], ...]]  # table → (column, type), …


def _add_missing_columns(db: sqlite3.Connection, added: Columns) -> set[str]:
    """Add each column its table lacks; returns the tables that got one."""
    changed: set[str] = set()
    for table, columns in added.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, kind in columns:
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                changed.add(table)
    return changed


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


def add_module_columns(db: sqlite3.Connection) -> None:
    """4: the tables other parts used to create themselves when they opened the file (they
    are in SCHEMA now), with the columns they added to an older hub's tables in place."""
    added = {
        "api_tokens": (("expires_ms", "INTEGER"),),
        "episodes": (("floppy", "INTEGER NOT NULL DEFAULT 0"),),
    }
    _add_missing_columns(db, added)


# After version 1 (the first release's tables), in order: (number, step). A file's
# user_version is the last step done; a step runs once, in a transaction of its own that
# also writes its number. Steps still look at the file itself (a column, a mark) so that
# one run on a file whose number is wrong (a hand-made copy) does no harm. A new table or
# column is a new step at the end, never an edit of a step already released.
MIGRATIONS: Final[tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...]] = (
    (2, add_receipt_columns),
    (3, backfill_rollups),
    (4, add_module_columns),
    (5, add_channel_health),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


def user_version(db: sqlite3.Connection) -> int:
    """The number of the last migration done on the file (0 for a new one)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(db: sqlite3.Connection) -> int:
    """The file's schema version; NewerDatabase when a newer hub wrote it, which this
    code would misread or damage."""
    version = user_version(db)
    if version > SCHEMA_VERSION:
        row = db.execute("PRAGMA database_list").fetchone()
        raise NewerDatabase(
            str(row[2]) if row and row[2] else "the database", version, SCHEMA_VERSION
        )
    return version


def migrate(db: sqlite3.Connection) -> None:
    """Bring an open file up to SCHEMA_VERSION before anything uses it. Every part of the
    hub that opens the file calls it, so whichever opens first does the work, once: each
    step re-reads user_version inside its write transaction, and a later opener sees the
    number and returns after one query. Raises NewerDatabase, sqlite3.Error."""
    if check_not_newer(db) == SCHEMA_VERSION:
        return
    _transaction(db, _create_tables)
    for number, step in MIGRATIONS:
        _transaction(db, _numbered(number, step))


def _create_tables(db: sqlite3.Connection) -> None:
    """The tables a file lacks, as this version makes them (IF NOT EXISTS)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _numbered(
    number: int, step: Callable[[sqlite3.Connection], None]
) -> Callable[[sqlite3.Connection], None]:
    def run(db: sqlite3.Connection) -> None:
        if user_version(db) >= number:  # another connection did it while we waited
            return
        step(db)
        db.execute(f"PRAGMA user_version={number}")

    return run
