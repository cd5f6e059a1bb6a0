"""`nursery backup` and `nursery restore` as a parent types them, beside a real hub storing
readings from a real broker: the backup made under load restores on a fresh machine with
every table as it was at the backup's moment, and a running hub's file is never replaced."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.messages import ReadingMessage, new_boot_id
from hub.store.database import Received, Store
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, SteadyRoom, hub_settings, wait_until
from tests.support.cli import nursery

Rows = dict[str, list[tuple[object, ...]]]


ROOMS = ("nursery", "bedroom", "playroom")
HISTORY = 20_000  # readings per room before the test, so the copy takes a while


def prefilled(db: Path) -> None:
    """A week of each room's history, from an earlier boot, up to a minute ago."""
    end = datetime.now(UTC) - timedelta(minutes=1)
    moments = [end - timedelta(seconds=30 * n) for n in range(HISTORY)][::-1]
    with Store(db) as store:
        for room in ROOMS:
            boot = new_boot_id()
            store.add_readings(
                [
                    Received(ReadingMessage(room, boot, seq, at, 20.0, 45.0), at)
                    for seq, at in enumerate(moments)
                ]
            )


def every_row(db: Path) -> Rows:
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [
            str(r[0])
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        query = 'SELECT * FROM "{}"'
        return {n: sorted(con.execute(query.format(n)).fetchall(), key=repr) for n in names}
    finally:
        con.close()


def stored(db: Path) -> int:
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM readings").fetchone()[0])
    finally:
        con.close()


def env(db: Path) -> dict[str, str]:
    return {"NURSERY_HUB__DB": str(db)}


def assert_one_moment_of(copy: Rows, source: Rows) -> None:
    """`copy` is the source as it was at one moment while ingest went on: what ingest does
    not touch is equal row by row; each stored reading is the source's, every boot's readings
    run without a gap from seq 0, and the boots' receipt marks and the hourly rollups agree
    with exactly those readings (one transaction's view, not a mix of two)."""
    ingest_tables = {"readings", "boots", "hourly", "rooms"}
    for table in copy.keys() - ingest_tables - {"incidents"}:
        assert copy[table] == source[table], table
    # A room that fell silent when its firmware stopped (after the backup) opened one.
    assert set(copy["incidents"]) <= set(source["incidents"])
    assert copy.keys() == source.keys()
    source_readings = set(source["readings"])
    by_boot: dict[object, list[int]] = {}
    for row in copy["readings"]:
        assert row in source_readings
        by_boot.setdefault(row[0], []).append(int(row[1]))  # type: ignore[call-overload]
    for seqs in by_boot.values():
        assert sorted(seqs) == list(range(len(seqs)))
    source_boots = {row[0]: row for row in source["boots"]}
    for boot_id, room_id, boot, mark in copy["boots"]:
        assert source_boots[boot_id][:3] == (boot_id, room_id, boot)
        assert mark == len(by_boot.get(boot_id, [])) - 1  # the receipts' mark at that moment
    hourly_counts = {(row[0], row[1]): row[2] for row in copy["hourly"]}
    per_hour: dict[tuple[object, int], int] = {}
    for row in copy["readings"]:
        key = (row[2], int(row[3]) - int(row[3]) % 3_600_000)  # type: ignore[call-overload]
        per_hour[key] = per_hour.get(key, 0) + 1
    assert hourly_counts == per_hour
    assert [row[:2] for row in copy["rooms"]] == [row[:2] for row in source["rooms"]]


@pytest.mark.slow
def test_a_backup_under_load_restores_on_a_fresh_machine_as_of_its_moment(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    source_dir = tmp_path / "pi"
    source_dir.mkdir()
    prefilled(source_dir / "hub.db")
    settings = hub_settings(source_dir, broker.port, base_topic)
    hub = start_hub(settings)
    rooms = [
        steady_rooms(
            settings.model_copy(
                update={"firmware": settings.firmware.model_copy(update={"room": name})}
            ),
            temperature_c=21.0,
        )
        for name in ROOMS
    ]
    db = settings.hub.db
    wait_until(lambda: stored(db) > 3 * HISTORY + 30, what="readings from the rooms stored")

    assert hub.post("/api/episodes/start", json={"room": "nursery"}).status_code == 201
    before = stored(db)
    made = nursery(tmp_path, "backup", "--keep", "3", **env(db))
    assert made.returncode == 0, made.stderr
    backup = next((source_dir / "backups").iterdir())
    assert f"backup written: {backup}" in made.stdout
    assert "mode 0600" in made.stdout and "health data" in made.stdout
    assert backup.stat().st_mode & 0o777 == 0o600
    with tarfile.open(backup) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    # Readings went on arriving while it ran (it holds more than when it started), and after.
    in_backup = manifest["tables"]["readings"]
    assert in_backup >= before
    wait_until(lambda: stored(db) > in_backup + 30, what="ingest going on after the backup")

    for room in rooms:
        room.stop()
    sent = sum(room.sent for room in rooms)
    wait_until(
        lambda: stored(db) == 3 * HISTORY + sent, what="every reading sent stored, none lost"
    )
    hub.stop()
    source = every_row(db)

    fresh = tmp_path / "new-card" / "hub.db"
    done = nursery(tmp_path, "restore", str(backup), **env(fresh))
    assert done.returncode == 0, done.stderr
    restored = every_row(fresh)
    assert len(restored["readings"]) == in_backup < len(source["readings"])
    assert f"restored {fresh} from the backup taken" in done.stdout
    assert f"{sum(len(rows) for rows in restored.values()):,} rows" in done.stdout
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert_one_moment_of(restored, source)
    # The caregiver who signs in, their token and the diary came along.
    assert restored["caregivers"] and restored["api_tokens"] and restored["episodes"]

    # The new card's hub starts on it: the same caregiver signs in, every room and the
    # diary are there.
    new_hub = start_hub(hub_settings(fresh.parent, broker.port, base_topic))
    assert sorted(room["room"] for room in new_hub.get("/api/rooms").json()) == sorted(ROOMS)
    assert len(new_hub.get("/api/episodes").json()) == 1


@pytest.mark.slow
def test_restore_refuses_to_replace_the_database_of_a_running_hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    db = settings.hub.db
    hub = start_hub(settings)
    room = steady_rooms(settings)
    wait_until(lambda: stored(db) > 5, what="readings stored")
    usb = tmp_path / "usb"
    unmounted = nursery(tmp_path, "backup", "--to", str(usb), **env(db))
    assert unmounted.returncode == 1
    assert unmounted.stderr.splitlines() == [
        f"nursery backup: {usb} does not exist: is the USB stick or network share mounted? "
        "(create the folder on it first)"
    ]
    usb.mkdir()
    made = nursery(tmp_path, "backup", "--to", str(usb), **env(db))
    assert made.returncode == 0, made.stderr
    backup = next((tmp_path / "usb").iterdir())

    refused = nursery(tmp_path, "restore", str(backup), **env(db))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"nursery restore: the hub is running with {db} open: stop it first "
        "(sudo systemctl stop nursery-hub), then restore"
    ]
    # The hub is untouched and goes on storing.
    count = stored(db)
    wait_until(lambda: stored(db) > count + 3, what="the hub still storing")
    assert sorted(p.name for p in tmp_path.iterdir() if "restor" in p.name) == []

    room.stop()
    hub.stop()
    done = nursery(tmp_path, "restore", str(backup), **env(db))
    assert done.returncode == 0, done.stderr
    assert "the database it replaced is kept as" in done.stdout


@pytest.mark.slow
def test_an_encrypted_backup_asks_for_its_passphrase_and_a_wrong_one_gets_one_line(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pi" / "hub.db"
    db.parent.mkdir()
    prefilled(db)
    key = tmp_path / "backup.passphrase"
    key.write_text("a long family passphrase\n")
    (tmp_path / "nas").mkdir()
    made = nursery(
        tmp_path, "backup", "--to", "nas", "--passphrase-file", str(key), "--keep", "1", **env(db)
    )
    assert made.returncode == 0, made.stderr
    assert "encrypted, mode 0600" in made.stdout
    (backup,) = (tmp_path / "nas").iterdir()
    assert backup.name.endswith(".tar.enc")

    fresh = tmp_path / "new-card" / "hub.db"
    asked = nursery(tmp_path, "restore", str(backup), **env(fresh))
    assert asked.returncode == 1
    assert asked.stderr.splitlines() == [
        f"nursery restore: {backup} is encrypted: give its --passphrase-file"
    ]
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase\n")
    refused = nursery(
        tmp_path, "restore", str(backup), "--passphrase-file", str(wrong), **env(fresh)
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "nursery restore: wrong passphrase (or the encrypted file was changed)"
    ]
    assert not fresh.exists()
    done = nursery(tmp_path, "restore", str(backup), "--passphrase-file", str(key), **env(fresh))
    assert done.returncode == 0, done.stderr
    assert every_row(fresh) == every_row(db)
