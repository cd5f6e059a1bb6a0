"""A hub database as the first released schema (tests/data/schema-v1.sql) kept it, with a
day of a household's rows in every table; `python -m tests.support.first_release FILE`."""

from __future__ import annotations

import math
import sqlite3
import sys
from pathlib import Path

from tests.support.paths import DATA

V1_SQL = DATA / "schema-v1.sql"
# 2026-11-24 00:00 UTC, the day after version 1 shipped.
DAY0_MS = 1_795_478_400_000
MINUTE_MS = 60_000
ROOMS = ("nursery", "attic")
BOOTS = (  # (boot id, room id, boot_id, first reading's minute, readings)
    (1, 1, "0b4f6a52-3c1e-4d8e-9f1a-7c2d5e6f8a90", 0, 720),
    (2, 1, "5e1d2c3b-4a59-4687-8a9b-0c1d2e3f4a5b", 725, 600),
    (3, 2, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", 30, 900),
)


def reading_rows() -> list[tuple[int, int, int, int, int, float, float]]:
    """(boot, seq, room_id, ts_ms, received_ms, °C, %RH): a reading a minute at a DHT22's
    0.1 resolution, a night's cool-down in the nursery and a steadier attic."""
    rows = []
    for boot, room_id, _boot_id, first, count in BOOTS:
        for seq in range(count):
            minute = first + seq
            ts = DAY0_MS + minute * MINUTE_MS
            swing = math.sin(2 * math.pi * minute / 1440)
            temperature = (17.5 + 2.5 * swing) if room_id == 1 else (19.0 + 0.8 * swing)
            humidity = 48.0 - 6.0 * swing + (seq % 7) * 0.1
            rows.append(
                (
                    boot,
                    seq,
                    room_id,
                    ts,
                    ts + 180 + seq % 50,
                    round(temperature, 1),
                    round(humidity, 1),
                )
            )
    return rows


def build(path: Path) -> Path:
    """Write the first release's database to `path` (which must not exist)."""
    db = sqlite3.connect(path)
    try:
        db.executescript(V1_SQL.read_text(encoding="utf-8"))
        with db:
            fill(db)
    finally:
        db.close()
    return path


def fill(db: sqlite3.Connection) -> None:
    last = DAY0_MS + 1440 * MINUTE_MS
    db.executemany(
        "INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "nursery", "online", DAY0_MS + 725 * MINUTE_MS, last - 115 * MINUTE_MS,
             None, None, None,
             '{"v":1,"room":"nursery","boot_id":"5e1d2c3b-4a59-4687-8a9b-0c1d2e3f4a5b",'
             '"ts":"2026-11-24T22:00:00Z","outbox_pending":0,"outbox_dropped":0,'
             '"outbox_error":null,"reads":602,"read_errors":2,"floor":{}}', last - 120 * MINUTE_MS),
            (2, "attic", "offline", last - 510 * MINUTE_MS, last - 510 * MINUTE_MS,
             DAY0_MS + 400 * MINUTE_MS, "DHT22 checksum mismatch", 3, None, None),
        ],
    )  # fmt: skip
    db.executemany("INSERT INTO boots VALUES (?, ?, ?)", [b[:3] for b in BOOTS])
    db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)", reading_rows())
    cold_at = DAY0_MS + 190 * MINUTE_MS
    db.executemany(
        "INSERT INTO incidents VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "nursery", "cold", cold_at, cold_at - 10 * MINUTE_MS, 15.8, 16.0, 15.2, None,
             cold_at, cold_at + 15 * MINUTE_MS, 1, None, cold_at + 20 * MINUTE_MS, "Sam",
             "push", 16.5, None, 0, cold_at + 140 * MINUTE_MS),
            (2, "nursery", "fast_drop", cold_at - 40 * MINUTE_MS, cold_at - 50 * MINUTE_MS,
             16.4, None, 16.1, 38.5, cold_at - 40 * MINUTE_MS, cold_at - 40 * MINUTE_MS, 0,
             None, None, None, None, None, None, 0, cold_at),
            (3, "attic", "no_data", last - 500 * MINUTE_MS, last - 510 * MINUTE_MS, None,
             None, None, None, last - 500 * MINUTE_MS, last - 470 * MINUTE_MS, 1,
             last - 440 * MINUTE_MS, None, None, None, None, last - 60 * MINUTE_MS, 1, None),
        ],
    )  # fmt: skip
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("link-signing", "q3Jx0o9kX2yq5bq1Zr4cV8wQeH7mT6nP1sLdUuA0bFg")],
    )
    db.executemany(
        "INSERT INTO pushes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, cold_at, "ntfy://127.0.0.1:9/nursery-7f3a", "The nursery is cold",
             "15.8 °C in the nursery. Add a layer or warm the room.", "high",
             '["snowflake"]', '[{"label": "I\'m on it", "url": "https://hub.local/a/1"}]',
             1, 0, 1, cold_at, cold_at + 2000, None, None),
            (2, cold_at + 15 * MINUTE_MS, "ntfy://127.0.0.1:9/nursery-7f3a",
             "Still cold in the nursery", "15.4 °C, for 25 minutes now.", "urgent", "[]",
             "[]", 1, 1, 3, cold_at + 18 * MINUTE_MS, cold_at + 17 * MINUTE_MS,
             "HTTP 502 from ntfy.sh", cold_at + 16 * MINUTE_MS),
            (3, last - 500 * MINUTE_MS, "json://127.0.0.1:9/household",
             "No news from the attic", "The attic's sensor has been silent for 10 minutes.",
             "default", "[]", "[]", 3, 0, 2, last - 400 * MINUTE_MS, None,
             "SMTP timeout", last - 430 * MINUTE_MS),
        ],
    )  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) != 1 or Path(argv[0]).exists():
        print("usage: python -m tests.support.first_release NEW_FILE", file=sys.stderr)
        return 2
    build(Path(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
