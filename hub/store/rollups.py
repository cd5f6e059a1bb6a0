"""Chart buckets: the hourly rollup kept in each batch's commit, so a week's or a year's
chart reads a few thousand rows instead of millions, and sums over raw readings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from hub.store.part import StorePart
from hub.store.records import HOUR_MS, Bucket, from_ms, hour_of, to_ms

# One upsert per room-hour a batch touches; a late reading (an outbox replay) adds to its
# own hour, wherever that is.
UPSERT_HOUR = (
    "INSERT INTO hourly (room_id, hour_ms, count, temperature_sum, temperature_min,"
    " temperature_max, humidity_sum, humidity_min, humidity_max)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (room_id, hour_ms) DO UPDATE SET"
    " count = count + excluded.count,"
    " temperature_sum = temperature_sum + excluded.temperature_sum,"
    " temperature_min = min(temperature_min, excluded.temperature_min),"
    " temperature_max = max(temperature_max, excluded.temperature_max),"
    " humidity_sum = humidity_sum + excluded.humidity_sum,"
    " humidity_min = min(humidity_min, excluded.humidity_min),"
    " humidity_max = max(humidity_max, excluded.humidity_max)"
)
# The same sums over raw readings, in buckets of a fixed width aligned to the epoch: what
# a chart would have to compute on the fly without the rollup.
BUCKET_COLUMNS = (
    "count(*), sum(temperature_c), min(temperature_c), max(temperature_c),"
    " sum(humidity_pct), min(humidity_pct), max(humidity_pct)"
)

# The hourly rollup added up over the stretches between consecutive bounds (a JSON array):
# one index range scan per stretch, so a year of days costs a few hundred short lookups.
_SUM_HOURS = (
    "WITH spans(start, stop) AS (SELECT value, lead(value) OVER (ORDER BY key)"
    " FROM json_each(:bounds))"
    " SELECT spans.start, sum(count), sum(temperature_sum), min(temperature_min),"
    " max(temperature_max), sum(humidity_sum), min(humidity_min), max(humidity_max)"
    " FROM spans JOIN hourly ON hourly.room_id = :room"
    " AND hourly.hour_ms >= spans.start AND hourly.hour_ms < spans.stop"
    " GROUP BY spans.start ORDER BY spans.start"
)


def batch_hourly_sums(
    rows: Sequence[tuple[int, int, int, int, int, float, float]],
) -> list[tuple[int, int, int, float, float, float, float, float, float]]:
    """The batch's new readings (as inserted) summed per room-hour, for UPSERT_HOUR."""
    if not rows:
        return []
    _, _, room_ids, stamps, _, temps, hums = zip(*rows, strict=True)
    first = min(stamps)
    hour = first - first % HOUR_MS
    if max(stamps) < hour + HOUR_MS and room_ids.count(room_ids[0]) == len(room_ids):
        # The usual batch: one room, one hour. Builtins over columns, no loop per reading.
        return [
            (
                room_ids[0],
                hour,
                len(rows),
                sum(temps),
                min(temps),
                max(temps),
                sum(hums),
                min(hums),
                max(hums),
            )
        ]
    hours: dict[tuple[int, int], list[float]] = {}
    for _, _, room_id, ts_ms, _, t, h in rows:
        key = (room_id, ts_ms - ts_ms % HOUR_MS)
        acc = hours.get(key)
        if acc is None:
            hours[key] = [1, t, t, t, h, h, h]
            continue
        acc[0] += 1
        acc[1] += t
        if t < acc[2]:
            acc[2] = t
        elif t > acc[3]:
            acc[3] = t
        acc[4] += h
        if h < acc[5]:
            acc[5] = h
        elif h > acc[6]:
            acc[6] = h
    return [
        (room_id, hour, int(n), ts, tlo, thi, hs, hlo, hhi)
        for (room_id, hour), (n, ts, tlo, thi, hs, hlo, hhi) in hours.items()
    ]


class Rollups(StorePart):
    """The chart's reads: raw readings as buckets, and the hourly rollup."""

    def _buckets(self, room: str, sql: str, args: dict[str, object]) -> list[Bucket]:
        """The rows of `sql` (with `:room` the room's id) as buckets; none for a room
        never seen."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return []
            rows = self._db.execute(sql, {**args, "room": room_id}).fetchall()
        return [Bucket(*row) for row in rows]

    def readings_as_buckets(
        self, room: str, since: datetime, until: datetime, limit: int
    ) -> list[Bucket]:
        """Up to `limit` readings in [since, until], oldest first, each a bucket of one."""
        return self._buckets(
            room,
            "SELECT ts_ms, 1, temperature_c, temperature_c, temperature_c,"
            " humidity_pct, humidity_pct, humidity_pct FROM readings"
            " WHERE room_id = :room AND ts_ms BETWEEN :since AND :until ORDER BY ts_ms"
            " LIMIT :limit",
            {"since": to_ms(since), "until": to_ms(until), "limit": limit},
        )

    def buckets(self, room: str, since: datetime, until: datetime, width_ms: int) -> list[Bucket]:
        """The room's readings in [since, until] summed over the raw rows, in buckets of
        `width_ms` aligned to the epoch (whole minutes, hours, UTC days)."""
        return self._buckets(
            room,
            f"SELECT ts_ms - ts_ms % :width, {BUCKET_COLUMNS} FROM readings"  # noqa: S608
            " WHERE room_id = :room AND ts_ms BETWEEN :since AND :until GROUP BY 1 ORDER BY 1",
            {"width": width_ms, "since": to_ms(since), "until": to_ms(until)},
        )

    def hourly(self, room: str, since: datetime, until: datetime) -> list[Bucket]:
        """The room's hourly rollup for the hours that overlap [since, until], oldest first."""
        return self._buckets(
            room,
            "SELECT hour_ms, count, temperature_sum, temperature_min, temperature_max,"
            " humidity_sum, humidity_min, humidity_max FROM hourly"
            " WHERE room_id = :room AND hour_ms BETWEEN :since AND :until ORDER BY hour_ms",
            {"since": hour_of(to_ms(since)), "until": to_ms(until)},
        )

    def hourly_sums(self, room: str, bounds: Sequence[int]) -> list[Bucket]:
        """The hourly rollup added up between consecutive `bounds` (ms, ascending), e.g.
        local midnights: an hour counts where its start falls; empty stretches are left out."""
        if len(bounds) < 2:
            return []
        return self._buckets(room, _SUM_HOURS, {"bounds": json.dumps(list(bounds))})

    def newest_reading_at(self, room: str, since: datetime, until: datetime) -> datetime | None:
        """The time of the room's newest reading in [since, until]: where a chart ends."""
        with self._lock:
            room_id = self._find_room(room)
            if room_id is None:
                return None
            row = self._db.execute(
                "SELECT max(ts_ms) FROM readings WHERE room_id = ? AND ts_ms BETWEEN ? AND ?",
                (room_id, to_ms(since), to_ms(until)),
            ).fetchone()
        return None if row[0] is None else from_ms(int(row[0]))
