"""The outbox on real SQLite files, and the hub's half of the receipt: marks and floors."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.episode_events import EpisodeEventMessage, new_event_id
from contract.messages import HealthMessage, ReadingMessage, StoredMessage, new_boot_id
from contract.topics import health_topic, reading_topic, stored_topic
from firmware.outbox import EVENTS_CAP, Outbox, OutboxError, cap_readings, open_outbox
from hub.store.database import Received, Store
from tests.support import Mosquitto, StartHub, hub_settings, wait_until

ROOM = "nursery"
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def take(outbox: Outbox, boot: str, next_seq: int = 0, sent_at: float | None = None) -> int:
    ts = T0 + timedelta(seconds=10 * next_seq)
    return outbox.take(ROOM, boot, next_seq, ts, 19.5, 50.0, sent_at=sent_at).seq


def held(outbox: Outbox) -> list[tuple[str, int]]:
    """Every (boot id, seq) the file holds, read through a connection of its own."""
    db = sqlite3.connect(outbox.path)
    try:
        rows = db.execute(
            "SELECT boots.boot_id, seq FROM readings JOIN boots ON boots.id = readings.boot"
            " ORDER BY readings.boot, seq"
        ).fetchall()
    finally:
        db.close()
    return [(str(b), int(s)) for b, s in rows]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db", cap=1000) as box:
        yield box


# --- taking readings ----------------------------------------------------------------


def test_each_boot_counts_from_zero_and_the_seq_is_written_with_the_row(outbox: Outbox) -> None:
    first, second = new_boot_id(), new_boot_id()
    assert [take(outbox, first, n) for n in range(3)] == [0, 1, 2]
    assert take(outbox, second) == 0
    assert take(outbox, first, 3) == 3
    # Another connection sees the seq and the row together: they share one commit.
    assert held(outbox) == [(first, 0), (first, 1), (first, 2), (first, 3), (second, 0)]
    assert outbox.taken() == {first: 3, second: 0}
    assert outbox.pending == 5


def test_a_reading_says_live_when_it_goes_out_now_and_not_when_sent_again(
    outbox: Outbox,
) -> None:
    """The hub times a live reading on its own clock and files the rest as history, so the
    firmware says which is which: a Pi's clock may be hours off until NTP answers."""
    boot = new_boot_id()
    online = outbox.take(ROOM, boot, 0, T0, 19.5, 50.0, sent_at=time.time())
    offline = outbox.take(ROOM, boot, 1, T0, 19.5, 50.0, sent_at=None)
    assert (online.live, offline.live) == (True, False)
    again = outbox.due(time.time() + 3600, grace_s=5, limit=10)
    assert [(h.seq, h.message().live) for h in again] == [(0, False), (1, False)]
    assert json.loads(again[0].message().encode())["live"] is False


def test_the_seq_never_goes_back_and_follows_the_callers_count(outbox: Outbox) -> None:
    boot = new_boot_id()
    assert take(outbox, boot, 0) == 0
    # The caller's count ran on while the outbox was failing: the next seq follows it.
    assert take(outbox, boot, 7) == 7
    # A stale count never reuses a seq.
    assert take(outbox, boot, 3) == 8
    assert outbox.taken() == {boot: 8}


def test_a_reading_the_contract_refuses_takes_no_seq(outbox: Outbox) -> None:
    boot = new_boot_id()
    with pytest.raises(ValueError, match="temperature_c"):
        outbox.take(ROOM, boot, 0, T0, 99.0, 50.0, sent_at=None)
    assert outbox.taken() == {}
    assert take(outbox, boot) == 0


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    boot = new_boot_id()
    with Outbox(path, cap=3) as box:
        for n in range(5):
            take(box, boot, n)
        box.confirm({boot: 2})
        assert box.prune() == 1  # seq 2; 0 and 1 went to the cap
    with Outbox(path, cap=3) as box:
        assert box.pending == 2
        assert box.dropped == 2
        assert box.taken() == {boot: 4}
        assert box.floor() == {boot: 3}
        assert take(box, boot, 0) == 5  # the same boot id carries on
        assert take(box, new_boot_id(), 0) == 0


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with Outbox(tmp_path / "deep" / "outbox.db", cap=10) as box:
            take(box, new_boot_id())
            files = [box.path, *box.path.parent.glob("outbox.db-*")]
            assert len(files) == 3  # the database, its WAL and its shared-memory index
            for file in files:
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        os.umask(old)


# --- receipts, floors, the cap ------------------------------------------------------


def test_receipts_prune_per_boot_and_move_the_floor(outbox: Outbox) -> None:
    old, new = new_boot_id(), new_boot_id()
    for n in range(5):
        take(outbox, old, n)
    for n in range(3):
        take(outbox, new, n)
    assert outbox.floor() == {old: 0, new: 0}
    outbox.confirm({old: 2, new: -1, new_boot_id(): 100})
    assert outbox.prune() == 3
    assert outbox.floor() == {old: 3, new: 0}
    outbox.confirm({old: 1})  # a mark never goes back
    assert outbox.prune() == 0
    # Noted marks are applied by the next write, in its own commit.
    outbox.confirm({old: 4, new: 2})
    assert outbox.pending == 5
    take(outbox, new, 3)
    assert outbox.pending == 1
    assert held(outbox) == [(new, 3)]
    assert outbox.taken() == {old: 4, new: 3}  # what was taken is remembered


def test_the_floor_lists_the_oldest_boots_first_and_at_most_a_limit(outbox: Outbox) -> None:
    boots = [new_boot_id() for _ in range(5)]
    for boot in boots:
        take(outbox, boot)
    assert list(outbox.floor(limit=3)) == boots[:3]


def test_the_cap_drops_the_oldest_counts_them_and_says_which(tmp_path: Path) -> None:
    first, second = new_boot_id(), new_boot_id()
    with Outbox(tmp_path / "outbox.db", cap=4) as box:
        for n in range(3):
            take(box, first, n)
        for n in range(4):
            take(box, second, n)
        assert box.pending == 4
        assert box.dropped == 3
        assert held(box) == [(second, n) for n in range(4)]
        assert box.dropped_ranges() == [(first, 0, 2)]
        assert box.floor() == {second: 0}
        take(box, second, 4)
        assert box.dropped_ranges() == [(first, 0, 2), (second, 0, 0)]
        assert box.floor() == {second: 1}


def test_cap_in_readings_follows_days_and_interval() -> None:
    assert cap_readings(30, 10) == 259_200
    assert cap_readings(1, 86400 * 2) == 1


# --- what to (re)send ---------------------------------------------------------------


def test_due_is_oldest_first_skips_recent_sends_and_survives_a_clock_set_back(
    outbox: Outbox,
) -> None:
    old, new = new_boot_id(), new_boot_id()
    now = time.time()
    take(outbox, old, 0, sent_at=now - 100)  # sent long ago, never confirmed
    take(outbox, old, 1, sent_at=now - 1)  # in flight
    take(outbox, old, 2, sent_at=None)  # never sent (offline)
    take(outbox, new, 0, sent_at=now + 3600)  # "sent" in the future: the clock went back
    take(outbox, new, 1, sent_at=None)
    due = outbox.due(now, grace_s=10, limit=10)
    assert [(h.boot_id, h.seq) for h in due] == [(old, 0), (old, 2), (new, 0), (new, 1)]
    assert [(h.boot_id, h.seq) for h in outbox.due(now, grace_s=10, limit=2)] == [
        (old, 0),
        (old, 2),
    ]
    message = due[0].message()
    assert isinstance(message, ReadingMessage)
    assert (message.room, message.boot_id, message.seq, message.ts) == (ROOM, old, 0, T0)
    outbox.mark_sent([(old, 0), (old, 2)], now)
    assert [(h.boot_id, h.seq) for h in outbox.due(now, grace_s=10, limit=10)] == [
        (new, 0),
        (new, 1),
    ]
    # After the grace period, unconfirmed readings are due again.
    assert len(outbox.due(now + 11, grace_s=10, limit=10)) == 5
    # Confirmed ones never are, even before they have left the file.
    outbox.confirm({old: 1})
    assert [(h.boot_id, h.seq) for h in outbox.due(now + 11, grace_s=10, limit=1)] == [(old, 2)]


# --- faults -------------------------------------------------------------------------


def test_an_unusable_place_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a directory")
    with pytest.raises(OutboxError, match=r"plain-file/outbox\.db") as raised:
        Outbox(tmp_path / "plain-file" / "outbox.db", cap=10)
    assert not raised.value.corrupt


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file read-only even for root (which ignores chmod): chattr +i when root."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path, cap=10) as box:
        take(box, new_boot_id())
    with read_only(path), pytest.raises(OutboxError, match=r"outbox\.db"):
        Outbox(path, cap=10)


@pytest.mark.slow
def test_a_full_disk_fails_the_write_and_leaves_no_seq_without_its_row(tmp_path: Path) -> None:
    boot = new_boot_id()
    path = tmp_path / "outbox.db"
    with Outbox(path, cap=10**6, max_pages=16) as box:
        with pytest.raises(OutboxError, match="full") as raised:
            for n in range(10_000):
                take(box, boot, n)
        assert not raised.value.corrupt
    with Outbox(path, cap=10**6) as box:
        last = box.taken()[boot]
        assert held(box) == [(boot, n) for n in range(last + 1)]


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not an SQLite database, it is an SD card's bad day" * 100)
    with pytest.raises(OutboxError) as raised:
        Outbox(path, cap=10)
    assert raised.value.corrupt
    with open_outbox(path, cap=10) as box:
        assert box.quarantined is not None
        assert box.quarantined.read_bytes().startswith(b"this is not")
        assert take(box, new_boot_id()) == 0


# --- the hub's half: contiguous marks and floors --------------------------------------


def stored(room: str, boot: str, seq: int) -> Received:
    ts = T0 + timedelta(seconds=10 * seq)
    return Received(ReadingMessage(room, boot, seq, ts, 19.0, 50.0), ts)


def health(room: str, floor: dict[str, int]) -> HealthMessage:
    return HealthMessage(room, new_boot_id(), T0, 0, 0, None, 0, 0, floor)


def test_the_hub_mark_stops_at_the_first_hole_and_moves_when_it_fills(tmp_path: Path) -> None:
    boot = new_boot_id()
    with Store(tmp_path / "hub.db") as store:
        assert store.receipt(ROOM) == {}
        store.add_readings([stored(ROOM, boot, n) for n in (0, 1, 2, 3, 4)])
        assert store.receipt(ROOM) == {boot: 4}
        store.add_readings([stored(ROOM, boot, n) for n in (6, 7)])
        assert store.receipt(ROOM) == {boot: 4}
        store.add_readings([stored(ROOM, boot, 5)])
        assert store.receipt(ROOM) == {boot: 7}
        store.add_readings([stored(ROOM, boot, 2)])  # a redelivery changes nothing
        assert store.receipt(ROOM) == {boot: 7}
    with Store(tmp_path / "hub.db") as store:
        assert store.receipt(ROOM) == {boot: 7}


def test_the_firmware_floor_lets_the_mark_pass_a_hole_the_cap_left(tmp_path: Path) -> None:
    boot = new_boot_id()
    with Store(tmp_path / "hub.db") as store:
        store.add_readings([stored(ROOM, boot, n) for n in (0, 1, 10, 11, 12)])
        assert store.receipt(ROOM) == {boot: 1}
        store.set_health(health(ROOM, {boot: 10}), T0)
        assert store.receipt(ROOM) == {boot: 12}
        # A floor the hub already passed, or a stale one, never moves a mark back.
        store.set_health(health(ROOM, {boot: 3}), T0)
        assert store.receipt(ROOM) == {boot: 12}
        # A floor above everything stored: the mark waits just below it.
        other = new_boot_id()
        store.add_readings([stored(ROOM, other, 0)])
        store.set_health(health(ROOM, {other: 5}), T0)
        store.add_readings([stored(ROOM, other, 5)])
        assert store.receipt(ROOM)[other] == 5


def test_the_receipt_names_recent_boots_and_those_the_firmware_holds(tmp_path: Path) -> None:
    with Store(tmp_path / "hub.db") as store:
        boots = [str(uuid.uuid4()) for _ in range(20)]
        for boot in boots:
            store.add_readings([stored(ROOM, boot, 0)])
        store.add_readings([stored("attic", boots[0], 0)])
        receipt = store.receipt(ROOM)
        assert set(receipt) == set(boots[-16:])
        store.set_health(health(ROOM, {boots[1]: 0}), T0)
        assert set(store.receipt(ROOM)) == {*boots[-16:], boots[1]}
        assert store.receipt("attic") == {boots[0]: 0}


def test_an_older_database_gets_its_marks_counted_once(tmp_path: Path) -> None:
    boot = new_boot_id()
    path = tmp_path / "hub.db"
    with Store(path) as store:
        store.add_readings([stored(ROOM, boot, n) for n in (0, 1, 2, 4)])
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE boots DROP COLUMN contiguous_seq")  # as the schema was
    db.execute("PRAGMA user_version = 1")  # before receipts
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.receipt(ROOM) == {boot: 2}


def test_sync_makes_commits_durable_without_a_checkpoint(tmp_path: Path) -> None:
    """The receipt's promise: sync() fsyncs the WAL, whatever state it is in."""
    with Store(tmp_path / "hub.db") as store:
        store.sync()
        store.add_readings([stored(ROOM, new_boot_id(), 0)])
        store.sync()
        assert (tmp_path / "hub.db-wal").exists()
    with Store(":memory:") as store:
        store.sync()


def test_the_hub_receipts_a_burst_in_few_retained_messages_and_heeds_the_floor(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    boot = new_boot_id()
    receipts: list[tuple[float, StoredMessage, bool]] = []

    def on_message(c: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        receipts.append((time.monotonic(), StoredMessage.decode(bytes(msg.payload)), msg.retain))

    watcher = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = on_message
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe(stored_topic(base_topic, ROOM), qos=1)
    watcher.loop_start()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        started = time.monotonic()
        topic = reading_topic(base_topic, ROOM)
        for seq in range(2000):
            if seq != 1000:  # a hole, as the cap would leave
                publisher.publish(topic, stored(ROOM, boot, seq).reading.encode(), qos=1)
        wait_until(
            lambda: receipts and receipts[-1][1].boots.get(boot) == 999,
            what="a receipt up to the hole",
        )
        wait_until(lambda: hub.get("/healthz").json()["messages"]["stored"] == 1999)
        elapsed = time.monotonic() - started
        assert len(receipts) <= elapsed + 2, "at most one receipt a second, and one at once"

        floor = HealthMessage(ROOM, boot, T0, 999, 1, None, 2000, 0, {boot: 1001})
        publisher.publish(health_topic(base_topic, ROOM), floor.encode(), qos=1, retain=True)
        wait_until(
            lambda: receipts[-1][1].boots.get(boot) == 1999, what="the floor to pass the hole"
        )
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        watcher.disconnect()
        watcher.loop_stop()
    # A newcomer (a restarted firmware) gets the latest receipt at once: it is retained.
    late: list[StoredMessage] = []
    newcomer = mqtt.Client(CallbackAPIVersion.VERSION2)
    newcomer.on_message = lambda c, u, m: late.append(StoredMessage.decode(bytes(m.payload)))
    newcomer.connect("127.0.0.1", broker.port)
    newcomer.subscribe(stored_topic(base_topic, ROOM), qos=1)
    newcomer.loop_start()
    try:
        wait_until(lambda: late, what="the retained receipt")
        assert late[0].boots[boot] == 1999
    finally:
        newcomer.disconnect()
        newcomer.loop_stop()


# --- episode-button events ----------------------------------------------------------


def event(action: str = "start", at: datetime = T0, room: str = ROOM) -> EpisodeEventMessage:
    return EpisodeEventMessage(room, new_event_id(), action, at)  # type: ignore[arg-type]


def test_an_event_waits_until_the_hub_names_it_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    start, stop = event("start"), event("stop", T0 + timedelta(minutes=3))
    with Outbox(path, cap=10) as box:
        box.add_event(start, sent_at=None)  # pressed while offline
        box.add_event(stop, sent_at=1000.0)
        assert box.events_pending == 2
    with Outbox(path, cap=10) as box:  # a restart
        assert box.events_pending == 2
        assert box.due_events(now=1010.0, resend_s=30) == [start]  # the other was just sent
        assert box.due_events(now=1031.0, resend_s=30) == [start, stop]  # in press order
        assert box.due_events(now=1010.0, resend_s=0) == [start, stop]  # on reconnection
        box.mark_events_sent([start.event_id], 1031.0)
        assert box.due_events(now=1040.0, resend_s=30) == [stop]
        assert box.event_stored(start.event_id)
        assert not box.event_stored(start.event_id), "a second receipt changes nothing"
        assert not box.event_stored(new_event_id()), "nor one for another Pi's event"
        assert box.events_pending == 1
        assert box.rooms() == {ROOM}
    with Outbox(path, cap=10) as box:
        assert box.due_events(now=2000.0, resend_s=30) == [stop]


def test_the_same_event_kept_twice_is_held_once(outbox: Outbox) -> None:
    press = event()
    outbox.add_event(press, sent_at=None)
    outbox.add_event(press, sent_at=None)
    assert outbox.events_pending == 1
    assert outbox.due_events(now=0.0, resend_s=30) == [press]


def test_a_clock_that_jumped_back_does_not_hold_an_event_forever(outbox: Outbox) -> None:
    press = event()
    outbox.add_event(press, sent_at=5000.0)  # sent "in the future" of the current clock
    assert outbox.due_events(now=1000.0, resend_s=30) == [press]


def test_events_of_a_renamed_room_keep_their_room(outbox: Outbox) -> None:
    press = event(room="old-room")
    outbox.add_event(press, sent_at=None)
    assert outbox.rooms() == {"old-room"}, "the firmware listens for that room's receipts too"
    assert outbox.due_events(now=0.0, resend_s=30)[0].room == "old-room"


@pytest.mark.slow
def test_a_chattering_button_cannot_fill_the_card(outbox: Outbox) -> None:
    presses = [event(at=T0 + timedelta(seconds=n)) for n in range(EVENTS_CAP + 5)]
    for press in presses:
        outbox.add_event(press, sent_at=None)
    assert outbox.events_pending == EVENTS_CAP
    kept = outbox.due_events(now=0.0, resend_s=30, limit=EVENTS_CAP + 10)
    assert kept == presses[5:], "the oldest went first"


def test_an_outbox_from_before_events_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    boot = new_boot_id()
    with Outbox(path, cap=10) as box:
        take(box, boot)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE events")  # as written by a firmware without the button
    db.commit()
    db.close()
    with Outbox(path, cap=10) as box:
        assert box.pending == 1 and box.events_pending == 0
        press = event()
        box.add_event(press, sent_at=None)
        assert box.due_events(now=0.0, resend_s=30) == [press]


def test_a_full_card_refuses_an_event_with_an_outbox_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path, cap=100_000) as box:
        pages = int(sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0])
    with Outbox(path, cap=100_000, max_pages=pages) as box:
        with pytest.raises(OutboxError, match=r"outbox\.db"):
            for n in range(1000):
                box.add_event(event(at=T0 + timedelta(seconds=n)), sent_at=None)
        assert box.events_pending == len(box.due_events(now=0.0, resend_s=0, limit=2000))


def test_the_hub_keeps_the_sensor_health_fields(tmp_path: Path) -> None:
    """What the firmware adds to its health message survives the hub's store."""
    full = HealthMessage(
        ROOM,
        new_boot_id(),
        T0,
        2,
        0,
        None,
        120,
        9,
        {},
        sensor_window_s=1800.0,
        error_ratio=0.05,
        attempt_error_ratio=0.075,
        errors_by_kind={"checksum": 6, "timeout": 0, "not_found": 3, "implausible": 0, "other": 0},
        stuck=False,
        unchanged_s=40.0,
        power_cycles=1,
        last_power_cycle=T0 - timedelta(minutes=5),
    )
    with Store(tmp_path / "hub.db") as store:
        store.set_health(full, T0)
        assert store.health(ROOM) == full
