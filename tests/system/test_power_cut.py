"""Power cuts: `nursery hub` killed with SIGKILL at random moments while readings pour in,
many times over; after each, the file is intact and every reading it receipted is there."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage, StoredMessage
from contract.topics import reading_topic, stored_topic
from tests.support.env import mqtt_env
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import NurseryProcess
from tests.support.wait import wait_until

ROUNDS = 20
ROOMS = ("nursery", "attic", "landing")
# Readings per second over all rooms: far above a household's (a reading per room every
# few seconds), so the hub is mid-commit most of the time. Not more: a restarted hub
# replays the readings received in the rules' window, and the test restarts it 20 times.
RATE = 200
# A kill comes this long (uniformly) after the restarted hub's first receipt.
KILL_WITHIN_S = 1.5


class Feed:
    """Readings for each room at RATE, QoS 1, from one boot per room; `resend` publishes
    again everything above a mark, as a Pi's outbox does for readings not yet receipted."""

    def __init__(self, broker: Mosquitto, base: str) -> None:
        self.base = base
        self.boots = {room: str(uuid.uuid4()) for room in ROOMS}
        self.next_seq = dict.fromkeys(ROOMS, 0)
        # Days old, as an outbox's backlog after an outage: stored like any reading, and
        # the restarted hub's rules do not replay thousands of them at each start.
        self.t0 = datetime.now(UTC) - timedelta(days=3)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"feed-{base}"[:23])
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(200)
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def message(self, room: str, seq: int) -> bytes:
        at = self.t0 + timedelta(milliseconds=10 * seq)
        reading = ReadingMessage(room, self.boots[room], seq, at, 18.0 + seq % 40 / 10, 50.0)
        return reading.encode()

    def _publish(self, room: str, seq: int) -> None:
        self._client.publish(reading_topic(self.base, room), self.message(room, seq), qos=1)

    def _run(self) -> None:
        batch = RATE // 10
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                for i in range(batch):
                    room = ROOMS[i % len(ROOMS)]
                    self._publish(room, self.next_seq[room])
                    self.next_seq[room] += 1
            next_at += 0.1
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def resend(self, marks: dict[tuple[str, str], int]) -> None:
        with self._lock:
            for room in ROOMS:
                for seq in range(marks.get((room, self.boots[room]), -1) + 1, self.next_seq[room]):
                    self._publish(room, seq)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class Receipts:
    """Every receipt the hub publishes: per (room, boot), the highest seq it vouched for."""

    def __init__(self, broker: Mosquitto, base: str) -> None:
        self.marks: dict[tuple[str, str], int] = {}
        self.count = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", broker.port)
        self._client.subscribe(stored_topic(base, "+"), qos=1)
        self._client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        receipt = StoredMessage.decode(bytes(msg.payload))
        with self._lock:
            self.count += 1
            for boot, seq in receipt.boots.items():
                key = (receipt.room, boot)
                self.marks[key] = max(seq, self.marks.get(key, -1))

    def snapshot(self) -> tuple[int, dict[tuple[str, str], int]]:
        with self._lock:
            return self.count, dict(self.marks)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def check_file(path: Path, marks: dict[tuple[str, str], int]) -> int:
    """integrity_check is ok and every receipted reading is stored; the readings stored."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for (room, boot), mark in marks.items():
            stored = db.execute(
                "SELECT count(*) FROM readings JOIN boots ON boots.id = readings.boot"
                " JOIN rooms ON rooms.id = boots.room_id"
                " WHERE rooms.name = ? AND boots.boot_id = ? AND readings.seq <= ?",
                (room, boot, mark),
            ).fetchone()[0]
            assert stored == mark + 1, f"{room} {boot}: receipted up to {mark}, {stored} stored"
        return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_during_heavy_writes_loses_no_receipted_reading(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    db = tmp_path / "hub.db"
    env = {
        **mqtt_env(broker.port, base_topic),
        "NURSERY_HUB__DB": str(db),
        "NURSERY_HUB__HTTP_PORT": str(free_port()),
        "NURSERY_HUB__CLIENT_ID": f"cut-{base_topic}"[:23],
    }
    seed = random.randrange(1 << 30)
    moments = random.Random(seed)
    receipts = Receipts(broker, base_topic)
    feed = Feed(broker, base_topic)
    hub = NurseryProcess(tmp_path, "hub", env)
    try:
        feed.start()
        stored = 0
        for round_ in range(ROUNDS):
            seen, _ = receipts.snapshot()

            def receipted(seen: int = seen) -> bool:
                return receipts.snapshot()[0] > seen or not hub.alive

            wait_until(receipted, timeout=60, what=f"a receipt (round {round_}, seed {seed})")
            assert hub.alive, hub.output()[-3000:]
            threading.Event().wait(moments.uniform(0, KILL_WITHIN_S))  # a random moment
            hub.kill()
            _, marks = receipts.snapshot()
            now_stored = check_file(db, marks)
            assert now_stored >= stored
            stored = now_stored
            hub.start()
            feed.resend(marks)  # what a Pi's outbox would send again
        feed.stop()
        # The last receipts vouch for everything: nothing was lost to twenty power cuts.
        _, marks = receipts.snapshot()
        feed.resend(marks)
        wait_until(
            lambda: all(
                receipts.snapshot()[1].get((room, feed.boots[room]), -1) == feed.next_seq[room] - 1
                for room in ROOMS
            ),
            timeout=60,
            what="receipts for every reading sent",
        )
        hub.finish()
        total = check_file(db, receipts.snapshot()[1])
        assert total == sum(feed.next_seq.values())
        assert total > ROUNDS * RATE // 2, "the writes were not heavy"
    finally:
        if hub.alive:
            hub.kill()
        feed.close()
        receipts.close()
