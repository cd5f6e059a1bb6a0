"""Charts for 24 h, 7 days and 1 year: the hourly rollup against the raw readings on a real
SQLite file, its backfill for an older database, the history endpoint over real HTTP, and
the dashboard's range switch in headless Chromium.
"""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import expect

import hub.store.migrations
from contract.messages import ReadingMessage
from contract.topics import reading_topic
from hub.conditions import Condition, Incident
from hub.store.database import HOUR_MS, Received, Store, to_ms
from hub.store.history import day_bounds, history, window
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, hub_settings, wait_until
from tests.support.browser import Phone

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
    monkeypatch.setattr(hub.store.migrations, "BACKFILL_LOG_READINGS", 1000)
    monkeypatch.setattr(hub.store.migrations, "BACKFILL_STEP_HOURS", 24)

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
        assert (
            conn.execute("PRAGMA user_version").fetchone()[0] == hub.store.migrations.SCHEMA_VERSION
        )


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

    original = hub.store.migrations._rebuild_rollups

    def half_then_cut(conn: sqlite3.Connection) -> None:
        original(conn)  # all the work, then the power goes before the commit
        cut()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hub.store.migrations, "_rebuild_rollups", half_then_cut)
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
    days: dict[date, list[Received]] = {}
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


# --- the endpoint over real HTTP -------------------------------------------------------

ROOM = "nursery"
COLD_SPIKE_C = 12.0


@dataclass
class Seeded:
    hub: RunningHub
    readings: list[Received]
    alert_opened: datetime


def seed(db: Path, now: datetime) -> tuple[list[Received], datetime]:
    """Over a year of readings every 10 min, the last 3 hours every 10 s with one cold
    reading among them, and a cold alert three days ago: what a hub would have stored."""
    start = now - timedelta(days=400)
    coarse = night(
        ROOM, str(uuid.uuid4()), start, int((now - start) / timedelta(minutes=10)) - 18, 600
    )
    fine = night(ROOM, str(uuid.uuid4()), now - timedelta(hours=3), 3 * 360 - 6)
    spike = fine[-200]
    fine[-200] = received(
        ROOM, spike.reading.boot_id, spike.reading.seq, spike.reading.ts, COLD_SPIKE_C
    )
    opened = now - timedelta(days=3)
    with Store(db) as store:
        for batch in batches(coarse + fine, [5000] * 20):
            store.add_readings(batch)
        store.save_incidents(
            [
                Incident(
                    id=None,
                    room=ROOM,
                    condition=Condition.COLD,
                    opened_at=opened,
                    since=opened,
                    value=15.2,
                    threshold=16.0,
                    resolved_at=opened + timedelta(minutes=40),
                )
            ]
        )
    return coarse + fine, opened


@pytest.fixture
def seeded(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: Callable[[Settings], RunningHub]
) -> Seeded:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    # Whole seconds: the store keeps milliseconds.
    readings, opened = seed(settings.hub.db, datetime.now(UTC).replace(microsecond=0))
    return Seeded(start_hub(settings), readings, opened)


def in_window(readings: list[Received], since: datetime, until: datetime) -> list[Received]:
    return [r for r in readings if since <= r.reading.ts <= until]


def summary(items: list[Received]) -> tuple[int, float, float, float, float, float, float]:
    temps = [r.reading.temperature_c for r in items]
    hums = [r.reading.humidity_pct for r in items]
    return (
        len(items),
        round(sum(temps) / len(temps), 2),
        min(temps),
        max(temps),
        round(sum(hums) / len(hums), 2),
        min(hums),
        max(hums),
    )


def point_summary(point: dict[str, Any]) -> tuple[int, float, float, float, float, float, float]:
    t, h = point["temperature_c"], point["humidity_pct"]
    return (point["count"], t["mean"], t["min"], t["max"], h["mean"], h["min"], h["max"])


def grouped(
    items: list[Received], key: Callable[[datetime], datetime]
) -> dict[datetime, list[Received]]:
    groups: dict[datetime, list[Received]] = {}
    for item in items:
        groups.setdefault(key(item.reading.ts), []).append(item)
    return groups


def assert_points_match(
    points: list[dict[str, Any]], groups: dict[datetime, list[Received]]
) -> None:
    assert [datetime.fromisoformat(p["ts"]) for p in points] == sorted(groups)
    for point in points:
        expected = summary(groups[datetime.fromisoformat(point["ts"])])
        got = point_summary(point)
        assert got[0] == expected[0] and got[2:4] == expected[2:4] and got[5:] == expected[5:]
        assert got[1] == pytest.approx(expected[1], abs=0.011)
        assert got[4] == pytest.approx(expected[4], abs=0.011)


def seeded_alert(seeded: Seeded, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The cold alert seed() stored, among those the history lists (the hub's monitor may
    open its own on the seeded readings)."""
    return [
        a for a in body["alerts"] if datetime.fromisoformat(a["opened_at"]) == seeded.alert_opened
    ]


def five_minutes(ts: datetime) -> datetime:
    return ts.replace(minute=ts.minute - ts.minute % 5, second=0, microsecond=0)


def whole_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def test_day_chart_keeps_a_short_cold_spell_in_five_minute_buckets(seeded: Seeded) -> None:
    response = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="24h")
    assert response.status_code == 200
    assert len(response.content) < 150 * 1024
    body = response.json()
    assert (body["range"], body["source"], body["bucket_s"]) == ("24h", "readings", 300)
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(hours=24)
    day = in_window(seeded.readings, since, until)
    assert_points_match(body["points"], grouped(day, five_minutes))
    assert datetime.fromisoformat(body["newest"]) == max(r.reading.ts for r in day)
    cold = [p for p in body["points"] if p["temperature_c"]["min"] == COLD_SPIKE_C]
    assert len(cold) == 1 and cold[0]["temperature_c"]["mean"] > 17, "the cold reading was lost"
    assert seeded_alert(seeded, body) == [], "the cold alert of three days ago is not in the day"

    # The existing readings endpoint still answers as before.
    readings = seeded.hub.get(f"/api/rooms/{ROOM}/readings", max_points=50)
    assert readings.status_code == 200 and len(readings.json()["points"]) <= 50


def test_week_chart_comes_from_the_hourly_rollup(seeded: Seeded, tmp_path: Path) -> None:
    body = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="7d").json()
    assert (body["range"], body["source"], body["bucket_s"]) == ("7d", "hourly", 3600)
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert since == whole_hour(until) - timedelta(days=7)
    week = in_window(seeded.readings, since, until)
    assert_points_match(body["points"], grouped(week, whole_hour))
    # Every hour of the week, and the current one once it has a reading (in the first
    # minute of an hour it may not have one yet).
    assert len(body["points"]) == 7 * 24 + (whole_hour(until) <= max(r.reading.ts for r in week))
    [alert] = seeded_alert(seeded, body)
    assert (alert["condition"], alert["severity"]) == ("cold", "alert")
    assert datetime.fromisoformat(alert["resolved_at"]) == seeded.alert_opened + timedelta(
        minutes=40
    )

    # Drawn from the rollup, not from the raw rows: change one hour there and it shows.
    hour = body["points"][10]
    with sqlite3.connect(seeded.hub.settings.hub.db) as conn:
        conn.execute(
            "UPDATE hourly SET temperature_max = 30.5 WHERE hour_ms = ?",
            (to_ms(datetime.fromisoformat(hour["ts"])),),
        )
    again = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="7d").json()
    assert again["points"][10]["temperature_c"]["max"] == 30.5


def test_late_reading_over_mqtt_lands_in_its_own_hour(
    seeded: Seeded, broker: Mosquitto, base_topic: str
) -> None:
    def hour_count(at: datetime) -> int:
        body = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="7d").json()
        counts = {datetime.fromisoformat(p["ts"]): p["count"] for p in body["points"]}
        return int(counts.get(whole_hour(at), 0))

    late_ts = datetime.now(UTC) - timedelta(hours=50)
    before = hour_count(late_ts)
    message = ReadingMessage(ROOM, str(uuid.uuid4()), 0, late_ts, 18.4, 51.0)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(reading_topic(base_topic, ROOM), message.encode(), qos=1).wait_for_publish(5)
        # Redelivered, as an outbox replay after a lost receipt would: counted once.
        client.publish(reading_topic(base_topic, ROOM), message.encode(), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    wait_until(lambda: hour_count(late_ts) == before + 1, what="the late reading in its hour")
    wait_until(
        lambda: seeded.hub.get("/healthz").json()["messages"]["duplicates"] >= 1,
        what="the redelivery to be seen as a duplicate",
    )
    assert hour_count(late_ts) == before + 1


def test_year_chart_has_local_days_from_the_rollup(seeded: Seeded) -> None:
    london = ZoneInfo("Europe/London")
    body = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="1y", tz="Europe/London").json()
    assert (body["range"], body["source"], body["bucket_s"]) == ("1y", "daily", 86400)
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    local_since = since.astimezone(london)
    assert local_since.time() == datetime.min.time()
    assert local_since.date() == until.astimezone(london).date() - timedelta(days=365)
    year = in_window(seeded.readings, since, until)

    def local_day(ts: datetime) -> datetime:
        return datetime.combine(ts.astimezone(london).date(), datetime.min.time(), tzinfo=london)

    assert_points_match(body["points"], grouped(year, local_day))
    assert len(body["points"]) == 366
    assert len(seeded_alert(seeded, body)) == 1


def test_bad_range_or_time_zone_is_a_422_naming_the_field(seeded: Seeded) -> None:
    bad = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="2d")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "range"]
    assert "'24h', '7d' or '1y'" in bad.json()["detail"][0]["msg"]

    zone = seeded.hub.get(f"/api/rooms/{ROOM}/history", range="1y", tz="Mars/Olympus_Mons")
    assert zone.status_code == 422
    assert zone.json()["detail"][0]["loc"] == ["query", "tz"]
    assert "Mars/Olympus_Mons" in zone.json()["detail"][0]["msg"]

    missing = seeded.hub.get("/api/rooms/attic/history", range="7d")
    assert missing.status_code == 404
    assert "attic" in missing.json()["detail"]


# --- the dashboard's range switch in a real browser ------------------------------------


def test_dashboard_switches_to_week_and_year_drawn_from_rollups(
    seeded: Seeded,
    phone: Callable[..., Phone],
) -> None:
    hub = seeded.hub
    week = hub.get(f"/api/rooms/{ROOM}/history", range="7d").json()
    episode = hub.post(
        "/api/episodes",
        json={
            "room": ROOM,
            "started_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            "duration_s": 40,
        },
    )
    assert episode.status_code == 201, episode.text
    tab = phone()
    tab.open(hub)
    card = tab.card(ROOM)
    temp = card.locator(".plot-temp svg")

    # The day: 5-minute buckets, with the short cold spell in the lowest-to-highest band.
    expect(temp).to_have_attribute("data-range", "24h")
    expect(temp).to_have_attribute("data-source", "readings")
    expect(temp).to_have_attribute("data-spread", "true")
    expect(card.locator(".key-spread")).to_be_visible()
    expect(card.locator('.range-btn[data-range="24h"]')).to_have_attribute("aria-pressed", "true")

    card.get_by_role("button", name="7 days").click()
    expect(temp).to_have_attribute("data-source", "hourly")
    expect(temp).to_have_attribute("data-points", str(len(week["points"])))
    expect(card.locator(".chart-span")).to_have_text("last 7 days")
    expect(card.locator('.range-btn[data-range="7d"]')).to_have_attribute("aria-pressed", "true")
    expect(temp.locator("rect.band")).to_have_count(1)  # the comfort band, 16–20 °C
    expect(temp.locator('rect.alert-span[data-condition="cold"]')).to_have_count(1)
    expect(temp.locator(".episode-mark")).to_have_count(1)
    expect(temp.locator(".episode-mark")).to_have_attribute("data-id", str(episode.json()["id"]))
    expect(card.locator(".key-alert")).to_be_visible()
    expect(card.locator(".key-episode")).to_be_visible()
    labels = temp.locator("text.xlabel").all_text_contents()
    assert len(set(labels)) == 7 and len(labels) <= 8, labels  # a weekday per midnight

    # Reading a past hour: its mean and its range.
    box = temp.bounding_box()
    assert box is not None
    tab.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(card.locator(".readout")).to_have_text(
        re.compile(r"^\S+ .+ · \d+\.\d °C \(\d+\.\d–\d+\.\d\) · \d+ % humidity$")
    )

    card.get_by_role("button", name="1 year").click()
    expect(temp).to_have_attribute("data-source", "daily")
    expect(temp).to_have_attribute("data-points", "366")
    expect(card.locator(".chart-span")).to_have_text("last 12 months")
    expect(temp.locator("text.xlabel")).not_to_have_count(0)
    year_requests = [url for url in tab.requests if "range=1y" in url]
    assert year_requests and all("tz=" in url for url in year_requests)
    assert any("/api/episodes?" in url for url in tab.requests)

    card.get_by_role("button", name="24 h").click()
    expect(temp).to_have_attribute("data-range", "24h")
    expect(card.locator(".chart-span")).to_have_text("last 24 h")
    assert tab.horizontal_overflow() <= 0
    assert tab.errors == []
