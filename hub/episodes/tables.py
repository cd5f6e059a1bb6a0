"""The episode tables' rows: an episode to a row and back (their schema: hub/store/schema.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final, cast

from hub.episodes.model import (
    LIMBS,
    WAKE_STATES,
    Details,
    Episode,
    Snapshot,
    Source,
    Timing,
    WakeState,
)
from hub.store.migrations import migrate
from hub.store.records import from_ms, opt_dt, to_ms

_COLUMNS: Final = (
    "id, room, started_at_ms, ended_at_ms, timed, limbs, alert, state, cluster, jerks, fever,"
    " fever_c, vomiting, poor_feeding, notes, source, created_at_ms, updated_at_ms,"
    " deleted_at_ms, snap_reading_at_ms, snap_temperature_c, snap_humidity_pct, snap_lowest_c,"
    " snap_trend_c_per_h, snap_minutes_below_cold, snap_cold_below_c, snap_cold_alert_open,"
    " snap_readings, floppy"
)
SELECT: Final = f"SELECT {_COLUMNS} FROM episodes"  # noqa: S608 - a fixed column list
_WRITTEN: Final = (
    "room",
    "started_at_ms",
    "ended_at_ms",
    "timed",
    "limbs",
    "alert",
    "state",
    "cluster",
    "jerks",
    "fever",
    "fever_c",
    "vomiting",
    "poor_feeding",
    "notes",
    "snap_reading_at_ms",
    "snap_temperature_c",
    "snap_humidity_pct",
    "snap_lowest_c",
    "snap_trend_c_per_h",
    "snap_minutes_below_cold",
    "snap_cold_below_c",
    "snap_cold_alert_open",
    "snap_readings",
    "floppy",
)
INSERT: Final = (
    f"INSERT INTO episodes ({', '.join(_WRITTEN)}, source, created_by, created_at_ms,"  # noqa: S608
    f" updated_by, updated_at_ms) VALUES ({', '.join('?' * (len(_WRITTEN) + 5))})"
)
UPDATE: Final = (
    f"UPDATE episodes SET {', '.join(c + ' = ?' for c in _WRITTEN)},"  # noqa: S608
    " updated_by = ?, updated_at_ms = ? WHERE id = ?"
)


def _opt_bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def episode_row(timing: Timing, details: Details, snapshot: Snapshot | None) -> tuple[object, ...]:
    snap: tuple[object, ...] = (None,) * 9
    if snapshot is not None:
        snap = (
            None if snapshot.reading_at is None else to_ms(snapshot.reading_at),
            snapshot.temperature_c,
            snapshot.humidity_pct,
            snapshot.lowest_c,
            snapshot.trend_c_per_h,
            snapshot.minutes_below_cold,
            snapshot.cold_below_c,
            int(snapshot.cold_alert_open),
            snapshot.readings,
        )
    return (
        timing.room,
        to_ms(timing.started_at),
        None if timing.ended_at is None else to_ms(timing.ended_at),
        int(timing.timed),
        ",".join(details.limbs),
        None if details.alert is None else int(details.alert),
        details.state,
        int(details.cluster),
        details.jerks,
        int(details.fever),
        details.fever_c,
        int(details.vomiting),
        int(details.poor_feeding),
        details.notes,
        *snap,
        int(details.floppy),
    )


def episode_from_row(row: Sequence[Any]) -> Episode:
    (
        episode_id,
        room,
        started,
        ended,
        timed,
        limbs,
        alert,
        state,
        cluster,
        jerks,
        fever,
        fever_c,
        vomiting,
        poor_feeding,
        notes,
        source,
        created,
        updated,
        deleted,
        *snap,
        floppy,
    ) = row
    snapshot = None
    if snap[6] is not None:  # cold_below_c is always set on a computed snapshot
        snapshot = Snapshot(
            reading_at=opt_dt(snap[0]),
            temperature_c=snap[1],
            humidity_pct=snap[2],
            lowest_c=snap[3],
            trend_c_per_h=snap[4],
            minutes_below_cold=snap[5],
            cold_below_c=float(snap[6]),
            cold_alert_open=bool(snap[7]),
            readings=int(snap[8] or 0),
        )
    return Episode(
        id=int(episode_id),
        timing=Timing(str(room), from_ms(started), opt_dt(ended), bool(timed)),
        details=Details(
            limbs=tuple(x for x in LIMBS if x in str(limbs).split(",")),
            alert=_opt_bool(alert),
            floppy=bool(floppy),
            state=cast(WakeState, state) if state in WAKE_STATES else None,
            cluster=bool(cluster),
            jerks=jerks,
            fever=bool(fever),
            fever_c=fever_c,
            vomiting=bool(vomiting),
            poor_feeding=bool(poor_feeding),
            notes=str(notes),
        ),
        snapshot=snapshot,
        source=cast(Source, source),
        created_at=from_ms(created),
        updated_at=from_ms(updated),
        deleted_at=opt_dt(deleted),
    )


def open_tables(db: sqlite3.Connection) -> None:
    """The tables made or upgraded (all of the file's, by the one runner) before a request's
    own connection uses them: one query when the file is already current."""
    migrate(db)
