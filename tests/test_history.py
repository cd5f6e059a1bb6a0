"""Charts for 24 h, 7 days and 1 year: the hourly rollup against the raw readings on a real
SQLite file, its backfill for an older database, the history endpoint over real HTTP, and
the dashboard's range switch in headless Chromium.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import hub.store
from firmware.contract import ReadingMessage
from hub.history import day_bounds, history, window
from hub.store import HOUR_MS, Received, Store, to_ms

T0 = datetime(2026, 11, 20, 21, 40, tzinfo=UTC)


def received(
    room: str, boot: str, seq: int, ts: datetime, temp: float, hum: float = 50.0
) -> Received:
    return Received(ReadingMessage(room, boot, seq, ts, temp, hum), ts + timedelta(seconds=1))


def night(
    room: str, boot: str, start: datetime, count: int, step_s: float = 10.0
) -> list[Received]:
    """`count` readings `step_s` apart with temperatures and humidities that wander."""
    rng = random.Random(f"{room}{start.isoformat()}")
    return [
        received(
            room,
            boot,
            seq,
            start + timedelta(seconds=step_s * seq),
            round(18 + 3 * rng.random(), 1),
            round(40 + 20 * rng.random(), 1),
        )
        for seq in range(count)
    ]


Hours = dict[tuple[str, int], tuple[int, float, float, float, float, float, float]]


def raw_hours(db: Path) -> Hours:
    """What the rollup must hold, computed the slow way: a GROUP BY over every raw row."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rooms.name, ts_ms - ts_ms % 3600000, count(*), sum(temperature_c),"
            " min(temperature_c), max(temperature_c), sum(humidity_pct), min(humidity_pct),"
            " max(humidity_pct) FROM readings JOIN rooms ON rooms.id = readings.room_id"
            " GROUP BY 1, 2"
        ).fetchall()
    return {(name, hour): tuple(rest) for name, hour, *rest in rows}


def rollup_hours(db: Path) -> Hours:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rooms.name, hour_ms, count, temperature_sum, temperature_min,"
            " temperature_max, humidity_sum, humidity_min, humidity_max"
            " FROM hourly JOIN rooms ON rooms.id = hourly.room_id"
        ).fetchall()
    return {(name, hour): tuple(rest) for name, hour, *rest in rows}


def assert_rollup_matches_raw(db: Path) -> None:
    raw, rollup = raw_hours(db), rollup_hours(db)
    assert raw, "no readings at all"
    assert rollup.keys() == raw.keys()
    for key, (count, t_sum, t_min, t_max, h_sum, h_min, h_max) in raw.items():
        got = rollup[key]
        assert got[0] == count, key
        assert (got[2], got[3], got[5], got[6]) == (t_min, t_max, h_min, h_max), key
        assert got[1] == pytest.approx(t_sum, rel=1e-12), key
        assert got[4] == pytest.approx(h_sum, rel=1e-12), key


def batches(items: list[Received], sizes: Iterable[int]) -> Iterable[list[Received]]:
    at = 0
    for size in sizes:
        if at >= len(items):
            return
        yield items[at : at + size]
        at += size
    if at < len(items):
        yield items[at:]


# --- the rollup in the store ---------------------------------------------------------


def test_rollup_matches_raw_group_by_with_duplicates_and_late_arrivals(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    boot, other = str(uuid.uuid4()), str(uuid.uuid4())
    live = night("nursery", boot, T0, 3 * 360 + 17)  # three hours and a bit, every 10 s
    landing = night("landing", boot, T0, 200)  # same boot id and seqs, another room
    # A second boot's readings from two days earlier, replayed by the outbox afterwards.
    late = night("nursery", other, T0 - timedelta(days=2, minutes=13), 500)
    with Store(db) as store:
        stored = 0
        for batch in batches(live, [1, 7, 500, 3, 250]):
            redelivered = batch[: len(batch) // 2]  # a second copy in the same batch
            stored += len(store.add_readings(batch + redelivered))
        for batch in batches(landing, [64]):
            stored += len(store.add_readings(batch))
        # The broker redelivers a stretch already stored, mixed with new late readings.
        for batch in batches(late, [120, 380]):
            stored += len(store.add_readings(live[100:160] + batch))
        assert stored == len(live) + len(landing) + len(late)
        assert store.count_readings() == stored

    assert_rollup_matches_raw(db)
    rollup = rollup_hours(db)
    assert sum(row[0] for row in rollup.values()) == stored, "a duplicate was counted"
    late_hours = {to_ms(r.reading.ts) // HOUR_MS * HOUR_MS for r in late}
    assert {hour for room, hour in rollup if hour < to_ms(T0) - HOUR_MS} == late_hours
    assert sum(rollup["nursery", hour][0] for hour in late_hours) == len(late)


def make_pre_rollup_database(db: Path) -> None:
    """Turn a database into what a hub before rollups left: readings, no hourly table."""
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE hourly")
        conn.execute("DELETE FROM meta WHERE key = 'rollup.hourly'")
        conn.execute("PRAGMA user_version = 2")


def test_backfill_on_open_builds_the_rollup_once_and_logs_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "hub.db"
    readings = night("nursery", str(uuid.uuid4()), T0 - timedelta(days=3), 4000, step_s=60)
    readings += night("attic", str(uuid.uuid4()), T0, 900)
    with Store(db) as store:
        store.add_readings(readings)
    make_pre_rollup_database(db)
    monkeypatch.setattr(hub.store, "BACKFILL_LOG_READINGS", 1000)
    monkeypatch.setattr(hub.store, "BACKFILL_STEP_HOURS", 24)

    with caplog.at_level(logging.INFO, logger="nursery.hub.store"), Store(db):
        pass
    assert_rollup_matches_raw(db)
    lines = [r.getMessage() for r in caplog.records if r.name == "nursery.hub.store"]
    assert lines[0] == "building hourly rollups from 4,900 stored readings (once)"
    progress = [line for line in lines if line.startswith("hourly rollups: ")]
    assert len(progress) >= 4, lines  # one per day-long step
    assert progress[-1] == "hourly rollups: 4,900 of 4,900 readings (100 %)"
    assert lines[-1].startswith("hourly rollups built: 4,900 readings into ")

    caplog.clear()
    before = rollup_hours(db)
    with caplog.at_level(logging.INFO, logger="nursery.hub.store"), Store(db) as store:
        assert store.add_readings(readings[:10]) == []  # redelivered: nothing new
    assert [r for r in caplog.records if r.name == "nursery.hub.store"] == []
    assert rollup_hours(db) == before, "opening again counted the readings twice"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == hub.store.SCHEMA_VERSION


def test_backfill_cut_short_leaves_nothing_half_counted(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    readings = night("nursery", str(uuid.uuid4()), T0, 2000)
    with Store(db) as store:
        store.add_readings(readings)
    make_pre_rollup_database(db)

    class PowerCut(Exception):
        pass

    def cut(*args: object) -> None:
        raise PowerCut

    original = Store._rebuild_rollups

    def half_then_cut(self: Store) -> None:
        original(self)  # all the work, then the power goes before the commit
        cut()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "_rebuild_rollups", half_then_cut)
        with pytest.raises(PowerCut):
            Store(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM hourly").fetchone()[0] == 0
    with Store(db):
        pass
    assert_rollup_matches_raw(db)


# --- the ranges, pure ------------------------------------------------------------------


def test_a_year_is_365_days_and_today_from_local_midnight() -> None:
    london = ZoneInfo("Europe/London")
    now = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)  # 01:30 in London (summer time)
    since, until = window("1y", now, london)
    assert until == now
    assert since == datetime(2025, 7, 1, 0, 0, tzinfo=london)
    assert window("7d", now)[0] == datetime(2026, 6, 24, 0, 0, tzinfo=UTC)
    assert window("24h", now)[0] == now - timedelta(hours=24)


def test_year_days_are_local_days_summed_from_hours_across_a_clock_change(
    tmp_path: Path,
) -> None:
    london = ZoneInfo("Europe/London")
    # 29 March 2026: London's clocks go forward, that day has 23 hours.
    first = datetime(2026, 3, 27, 0, 0, tzinfo=london)
    now = datetime(2026, 3, 31, 12, 0, tzinfo=london)
    start = first.astimezone(UTC)
    count = int((now.astimezone(UTC) - start) / timedelta(minutes=10))  # real minutes
    readings = night("nursery", str(uuid.uuid4()), start, count, 600)
    bounds = day_bounds(window("1y", now, london)[0], now, london)
    assert [b - a for a, b in pairwise(bounds[-6:])] == [
        24 * HOUR_MS,
        24 * HOUR_MS,
        23 * HOUR_MS,
        24 * HOUR_MS,
        24 * HOUR_MS,
    ]
    with Store(tmp_path / "hub.db") as store:
        store.add_readings(readings)
        chart = history(store, "nursery", "1y", now, london)

    assert chart.source == "daily" and chart.bucket_s == 86400
    days: dict[object, list[Received]] = {}
    for item in readings:
        days.setdefault(item.reading.ts.astimezone(london).date(), []).append(item)
    assert [p.ts.astimezone(london).date() for p in chart.points] == sorted(days)
    assert all(p.ts.astimezone(london).time() == datetime.min.time() for p in chart.points)
    assert [p.count for p in chart.points] == [144, 144, 138, 144, 72]
    for point, day in zip(chart.points, sorted(days), strict=True):
        temps = [r.reading.temperature_c for r in days[day]]
        hums = [r.reading.humidity_pct for r in days[day]]
        assert point.temperature_c.min == min(temps)
        assert point.temperature_c.max == max(temps)
        assert point.temperature_c.mean == round(sum(temps) / len(temps), 2)
        assert point.humidity_pct.mean == round(sum(hums) / len(hums), 2)
