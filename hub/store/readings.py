"""The readings table: each reading stored once per (room, boot_id, seq), in batches."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from hub.store.receipts import Receipts
from hub.store.records import (
    LATEST_COLUMNS,
    LatestReading,
    Received,
    Series,
    StoredReading,
    from_ms,
    latest_reading,
    to_ms,
)
from hub.store.rollups import UPSERT_HOUR, batch_hourly_sums


class Readings(Receipts):
    """Writes a batch with its rollup and marks in one commit; reads a room's readings."""

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
            db.executemany(UPSERT_HOUR, batch_hourly_sums(rows))
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

    def recent_readings(self, room: str, since: datetime) -> list[LatestReading]:
        """The room's readings received since a time, in the order they arrived, with their
        boot and seq: to rebuild the rules' memory after a restart as ingest fed it."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {LATEST_COLUMNS}"  # noqa: S608 - a fixed column list
                " FROM readings JOIN rooms ON rooms.id = readings.room_id"
                " JOIN boots ON boots.id = readings.boot"
                " WHERE rooms.name = ? AND received_ms >= ? ORDER BY received_ms, boot, seq",
                (room, to_ms(since)),
            ).fetchall()
        return [latest_reading(row) for row in rows]

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

    def readings(self, room: str, since: datetime, until: datetime, max_points: int) -> Series:
        """The room's readings in [since, until], averaged into at most max_points buckets."""
        lo, hi = to_ms(since), to_ms(until)
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return Series([], downsampled=False)
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
