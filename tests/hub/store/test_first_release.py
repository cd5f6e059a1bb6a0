"""A database the first released schema made (tests/data/schema-v1.sql, filled by
tests/support/first_release.py) upgrades to today's with every row kept, and serves."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx

from hub.store.database import SCHEMA_VERSION, Store
from tests.support.env import mqtt_env
from tests.support.first_release import BOOTS, DAY0_MS, build, reading_rows
from tests.support.hub import api_token
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import NurseryProcess
from tests.support.wait import wait_until

Snapshot = dict[str, list[tuple[object, ...]]]


def v1_columns(path: Path) -> dict[str, list[str]]:
    """Each table of the file and its columns, as they are now."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}


def rows(path: Path, columns: dict[str, list[str]]) -> Snapshot:
    """Every row of each table, those columns only, in primary-key order."""
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
            for table, cols in columns.items()
        }


def answers_at_all(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.TransportError:
        return False
    return True


def test_the_first_release_upgrades_with_every_row_kept(tmp_path: Path) -> None:
    path = build(tmp_path / "hub.db")
    old = v1_columns(path)
    assert set(old) == {"rooms", "boots", "readings", "incidents", "meta", "pushes"}
    before = rows(path, old)
    assert all(before.values()), "the fixture leaves a table empty"

    Store(path).close()

    after = rows(path, old)
    # The one row the upgrade adds: the mark that the rollups were built (step 3).
    assert after.pop("meta") == sorted([*before.pop("meta"), ("rollup.hourly", "done")])
    assert after == before, "a row or value changed in the upgrade"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        marks = dict(db.execute("SELECT id, contiguous_seq FROM boots"))
        assert marks == {boot: count - 1 for boot, _room, _id, _first, count in BOOTS}
        assert db.execute("SELECT sum(count) FROM hourly").fetchone()[0] == len(reading_rows())
    fresh = Store(tmp_path / "fresh.db")
    fresh.close()
    assert v1_columns(path) == v1_columns(tmp_path / "fresh.db"), "today's tables differ"


def test_the_hub_starts_on_the_first_release_and_serves_its_history(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    shutil.copy(build(tmp_path / "v1.db"), tmp_path / "hub.db")
    port = free_port()
    hub = NurseryProcess(
        tmp_path,
        "hub",
        {
            **mqtt_env(broker.port, base_topic),
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(port),
        },
    )
    try:
        # /healthz says 503 here (every room of that day is silent now): any answer will do.
        wait_until(lambda: answers_at_all(port), timeout=30, what="the hub to serve")
        token = api_token(tmp_path / "hub.db")
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert sorted(room["room"] for room in client.get("/api/rooms").json()) == [
            "attic",
            "nursery",
        ]
        expected: dict[str, list[tuple[str, float, float]]] = {"nursery": [], "attic": []}
        for _boot, _seq, room_id, ts, _received, temperature, humidity in reading_rows():
            moment = datetime.fromtimestamp(ts / 1000, UTC)
            expected["nursery" if room_id == 1 else "attic"].append(
                (moment.isoformat().replace("+00:00", "Z"), temperature, humidity)
            )
        day: dict[str, str | int] = {
            "since": datetime.fromtimestamp(DAY0_MS / 1000, UTC).isoformat(),
            "until": datetime.fromtimestamp(DAY0_MS / 1000 + 86400, UTC).isoformat(),
            "max_points": 10000,
        }
        for room, want in expected.items():
            answer = client.get(f"/api/rooms/{room}/readings", params=day)
            assert answer.status_code == 200, answer.text
            points = answer.json()["points"]
            assert not answer.json()["downsampled"]
            served = [(p["ts"], p["temperature_c"], p["humidity_pct"]) for p in points]
            assert served == want
    finally:
        hub.finish()
