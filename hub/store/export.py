"""The hub's history as plain rows (readings, alerts, episodes), read on a read-only
connection so an export never blocks or changes the running hub; docs/export.md."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from hub.store.dbfile import connect_read_only
from hub.store.records import from_ms, to_ms

Row = dict[str, Any]

# Column order of each record, for CSV (JSON Lines writes the same keys).
READING_FIELDS: Final = (
    "room",
    "ts",
    "received_at",
    "temperature_c",
    "humidity_pct",
    "boot_id",
    "seq",
)
ALERT_FIELDS: Final = (
    "id",
    "room",
    "condition",
    "opened_at",
    "since",
    "resolved_at",
    "value",
    "threshold",
    "worst",
    "notified_at",
    "last_push_at",
    "repeats",
    "escalated_at",
    "acked_at",
    "acked_by",
    "acked_via",
    "snoozed_until",
    "held",
)
_BATCH: Final = 5000


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """What to export: one room or all, readings measured (alerts opened) in [since, until)."""

    room: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _iso(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat().replace("+00:00", "Z")


def _window(column: str, f: ExportFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if f.room is not None:
        clauses.append("room = ?" if column != "ts_ms" else "rooms.name = ?")
        args.append(f.room)
    if f.since is not None:
        clauses.append(f"{column} >= ?")
        args.append(to_ms(f.since))
    if f.until is not None:
        clauses.append(f"{column} < ?")
        args.append(to_ms(f.until))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class HistoryReader:
    """Reads the hub's file without writing a byte: safe beside the running hub."""

    def __init__(self, path: Path) -> None:
        self._db = connect_read_only(path)  # raises OSError / sqlite3.Error

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count_readings(self, f: ExportFilter) -> int:
        where, args = _window("ts_ms", f)
        row = self._db.execute(
            "SELECT count(*) FROM readings JOIN rooms ON rooms.id = readings.room_id"  # noqa: S608
            + where,
            args,
        ).fetchone()
        return int(row[0])

    def readings(
        self, f: ExportFilter, progress: Callable[[int], None] | None = None
    ) -> Iterator[Row]:
        """Every reading in the window, in the order the hub received them (as the rules
        saw them), in batches so a year of readings never sits in memory at once."""
        where, args = _window("ts_ms", f)
        cursor = self._db.execute(
            "SELECT rooms.name, ts_ms, received_ms, temperature_c, humidity_pct,"  # noqa: S608
            " boots.boot_id, seq FROM readings"
            " JOIN rooms ON rooms.id = readings.room_id JOIN boots ON boots.id = readings.boot"
            + where
            + " ORDER BY received_ms, boot, seq",
            args,
        )
        done = 0
        while batch := cursor.fetchmany(_BATCH):
            for room, ts, received, t, h, boot_id, seq in batch:
                yield {
                    "room": room,
                    "ts": _iso(ts),
                    "received_at": _iso(received),
                    "temperature_c": t,
                    "humidity_pct": h,
                    "boot_id": boot_id,
                    "seq": seq,
                }
            done += len(batch)
            if progress is not None:
                progress(done)

    def alerts(self, f: ExportFilter) -> Iterator[Row]:
        """Every alert opened in the window (the incidents table), oldest first."""
        where, args = _window("opened_at_ms", f)
        columns = ", ".join(
            f"{name}_ms" if name.endswith(("_at", "since", "until")) else name
            for name in ALERT_FIELDS
        )
        for row in self._db.execute(
            f"SELECT {columns} FROM incidents{where} ORDER BY opened_at_ms, id",  # noqa: S608
            args,
        ):
            out = dict(zip(ALERT_FIELDS, row, strict=True))
            for key in ALERT_FIELDS:
                if key.endswith(("_at", "since", "until")):
                    out[key] = _iso(out[key])
            out["held"] = bool(out["held"])
            yield out

    def episodes(self, f: ExportFilter) -> Iterator[Row]:
        """The episode log (health data), every column, deleted entries left out."""
        where, args = _window("started_at_ms", f)
        extra = " AND deleted_at_ms IS NULL" if where else " WHERE deleted_at_ms IS NULL"
        try:
            cursor = self._db.execute(
                f"SELECT * FROM episodes{where}{extra} ORDER BY started_at_ms, id",  # noqa: S608
                args,
            )
        except sqlite3.OperationalError:
            return  # no episode was ever logged: the table is made on first use
        names = [d[0] for d in cursor.description]
        for row in cursor:
            out: Row = {}
            for name, value in zip(names, row, strict=True):
                if name.endswith("_ms"):
                    out[name.removesuffix("_ms")] = _iso(value)
                else:
                    out[name] = value
            yield out
