"""The SQLite store: idempotent on (room, boot_id, seq), 0600, downsampling, room state."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.messages import FaultMessage, ReadingMessage
from hub.store.database import Received, Store, StoreError

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def received(room: str, boot: str, seq: int, temp: float = 19.0, at: datetime = T0) -> Received:
    ts = at + timedelta(seconds=10 * seq)
    return Received(ReadingMessage(room, boot, seq, ts, temp, 50.0), ts + timedelta(seconds=1))


def test_file_and_journal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hub.db"
    with Store(path) as store:
        store.add_readings([received("nursery", str(uuid.uuid4()), 0)])
        for file in [path, *tmp_path.glob("data/hub.db-*")]:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_redelivery_is_stored_once(tmp_path: Path) -> None:
    boot = str(uuid.uuid4())
    with Store(tmp_path / "hub.db") as store:
        assert len(store.add_readings([received("nursery", boot, i) for i in range(5)])) == 5
        again = [received("nursery", boot, i) for i in range(3, 8)]
        assert len(store.add_readings(again)) == 3
        # Same seq under another boot or room is a different reading.
        assert len(store.add_readings([received("nursery", str(uuid.uuid4()), 0)])) == 1
        assert len(store.add_readings([received("attic", boot, 0)])) == 1
        assert store.count_readings("nursery") == 9
        assert store.count_readings() == 10


def test_survives_reopen(tmp_path: Path) -> None:
    boot = str(uuid.uuid4())
    with Store(tmp_path / "hub.db") as store:
        store.add_readings([received("nursery", boot, i) for i in range(3)])
    with Store(tmp_path / "hub.db") as store:
        assert len(store.add_readings([received("nursery", boot, 2)])) == 0
        assert store.count_readings() == 3


def test_unopenable_database_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"dir\.db"):
        Store(tmp_path / "dir.db")


def test_series_is_raw_when_small_and_averaged_when_large(tmp_path: Path) -> None:
    boot = str(uuid.uuid4())
    with Store(tmp_path / "hub.db") as store:
        store.add_readings([received("nursery", boot, i, temp=18.0 + (i % 2)) for i in range(1000)])
        end = T0 + timedelta(seconds=10 * 999)
        raw = store.readings("nursery", T0, end, max_points=1000)
        assert not raw.downsampled
        assert len(raw.points) == 1000
        assert [p.ts for p in raw.points] == sorted(p.ts for p in raw.points)
        small = store.readings("nursery", T0, end, max_points=100)
        assert small.downsampled
        assert 50 <= len(small.points) <= 100
        assert all(p.temperature_c == pytest.approx(18.5, abs=0.11) for p in small.points)
        window = store.readings(
            "nursery", T0 + timedelta(seconds=100), T0 + timedelta(seconds=190), 1000
        )
        assert len(window.points) == 10
        assert store.readings("nowhere", T0, end, 10).points == []


def test_room_state_tracks_latest_status_and_fault(tmp_path: Path) -> None:
    boot = str(uuid.uuid4())
    with Store(tmp_path / "hub.db") as store:
        store.add_readings([received("nursery", boot, i, temp=20 - i) for i in range(3)])
        store.add_readings([received("nursery", boot, 1)])  # older redelivery
        store.set_status("nursery", "online", T0)
        (room,) = store.rooms()
        assert room.latest is not None
        assert room.latest.seq == 2
        assert room.latest.temperature_c == 18
        assert room.status == "online"
        assert room.last_seen == T0 + timedelta(seconds=21)
        store.add_fault(
            FaultMessage(
                "nursery", boot, T0 + timedelta(minutes=5), "Checksum did not validate", 2
            ),
            T0 + timedelta(minutes=5),
        )
        store.set_status("nursery", "offline", T0 + timedelta(minutes=6))
        room = store.room("nursery")  # type: ignore[assignment]
        assert room is not None
        assert room.fault is not None
        assert room.fault.error == "Checksum did not validate"
        assert room.status == "offline"
        assert store.room("attic") is None


def test_recent_readings_come_back_in_arrival_order_with_boot_and_seq(tmp_path: Path) -> None:
    """What a restarted hub rebuilds its rules from: without a reading's boot and seq a
    Pi's wrong clock can only be judged from delays, and a cold stretch loses its start."""
    store = Store(tmp_path / "hub.db")
    boot = str(uuid.uuid4())
    # A Pi 3 h behind: its stamps are old, its readings arrive now.
    behind = [
        Received(
            ReadingMessage("nursery", boot, seq, T0 - timedelta(hours=3, seconds=-seq), 15.0, 50.0),
            T0 + timedelta(seconds=seq),
        )
        for seq in range(3)
    ]
    store.add_readings(behind)
    rows = store.recent_readings("nursery", T0 - timedelta(minutes=1))
    assert [(r.boot_id, r.seq) for r in rows] == [(boot, 0), (boot, 1), (boot, 2)]
    assert [r.received_at for r in rows] == [T0 + timedelta(seconds=s) for s in range(3)]
    assert rows[0].ts == T0 - timedelta(hours=3)
    store.close()
