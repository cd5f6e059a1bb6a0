"""A full disk and a read-only filesystem under the real hub: it stops acknowledging, tells
every caregiver straight from memory, serves the dashboard read-only and saves again.

Real Mosquitto, real `nursery firmware` (simulated sensor) and `nursery hub` processes,
the hub's database on a small real filesystem the test mounts (root: CI runs as root).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from contract.hub_storage import HubStorageMessage
from contract.messages import StoredMessage
from contract.topics import hub_storage_topic, stored_topic
from tests.support import Mosquitto, free_port, wait_until
from tests.support.env import mqtt_env, settings_env
from tests.support.hub import api_token
from tests.support.processes import NurseryProcess
from tests.support.push import Receiver
from tests.support.small_disk import fail_ext4, fill, loop_ext4, remount_after_fsck, small_tmpfs

pytestmark = [pytest.mark.slow]

ROOM = "nursery"


class Scene:
    """A firmware, a hub whose database lives on `disk`, a push receiver, and what the
    broker carries: the hub's receipts and its storage state."""

    def __init__(
        self,
        workdir: Path,
        disk: Path,
        broker: Mosquitto,
        base: str,
        receiver: Receiver,
        watcher: mqtt.Client,
    ) -> None:
        self.workdir, self.receiver = workdir, receiver
        self.db = disk / "hub.db"
        self.outbox = workdir / "fw" / "outbox.db"
        self.outbox.parent.mkdir()
        self.url = f"http://127.0.0.1:{free_port()}"
        on_broker = {**mqtt_env(broker.port, base), "NURSERY_MQTT__KEEPALIVE_S": "5"}
        self.hub_env = {
            **on_broker,
            "NURSERY_HUB__DB": str(self.db),
            "NURSERY_HUB__HTTP_PORT": self.url.rsplit(":", 1)[1],
            "NURSERY_HUB__CLIENT_ID": f"hub-{base}"[:23],
            "NURSERY_NOTIFY__URLS": json.dumps([receiver.url("save")]),
            # The rooms fall silent to the hub within the outage: their alerts want the disk.
            "NURSERY_RULES__STALE_AFTER_S": "3",
        }
        self.firmware_env = {
            **on_broker,
            "NURSERY_FIRMWARE__ROOM": ROOM,
            "NURSERY_FIRMWARE__SENSOR": "simulated",
            "NURSERY_FIRMWARE__OUTBOX": str(self.outbox),
            "NURSERY_FIRMWARE__INTERVAL_S": "0.05",
            "NURSERY_FIRMWARE__HEALTH_EVERY_S": "1",
        }
        self.headers = {"Authorization": f"Bearer {api_token(self.db)}"}
        self.receipts: list[StoredMessage] = []
        self.storage: list[HubStorageMessage] = []
        self._lock = threading.Lock()
        watcher.message_callback_add(stored_topic(base, ROOM), self._on_receipt)
        watcher.message_callback_add(hub_storage_topic(base), self._on_storage)
        watcher.subscribe([(stored_topic(base, ROOM), 1), (hub_storage_topic(base), 1)])
        self.hub = NurseryProcess(workdir, "hub", self.hub_env)
        self.firmware = NurseryProcess(workdir, "firmware", self.firmware_env)

    def _on_receipt(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload:
            with self._lock:
                self.receipts.append(StoredMessage.decode(bytes(message.payload)))

    def _on_storage(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.storage.append(HubStorageMessage.decode(bytes(message.payload)))

    def stop(self) -> None:
        for process in (self.firmware, self.hub):
            if process.alive:
                process.stop()

    # --- what each side says -----------------------------------------------------------

    def health(self) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = httpx.get(self.url + "/healthz", timeout=5).json()
        except (httpx.TransportError, ValueError):
            return None
        return answer

    def storage_state(self) -> str | None:
        health = self.health()
        return str(health["storage"]["state"]) if health else None

    def marks(self) -> dict[str, int]:
        """The hub's database: each boot's contiguous mark (read-only, beside the hub)."""
        db = sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT boot_id, contiguous_seq FROM boots").fetchall()
        finally:
            db.close()
        return {str(boot): int(mark) for boot, mark in rows}

    def taken(self) -> dict[str, int]:
        """The firmware's outbox: the last seq each boot took."""
        db = sqlite3.connect(self.outbox, timeout=5)
        try:
            return {str(b): int(s) for b, s in db.execute("SELECT boot_id, last_seq FROM boots")}
        finally:
            db.close()

    def held(self) -> int:
        db = sqlite3.connect(self.outbox, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
        finally:
            db.close()

    def receipted(self) -> dict[str, int]:
        """The highest mark per boot any receipt has claimed so far."""
        with self._lock:
            receipts = list(self.receipts)
        claimed: dict[str, int] = {}
        for receipt in receipts:
            for boot, mark in receipt.boots.items():
                claimed[boot] = max(claimed.get(boot, -1), mark)
        return claimed

    def all_stored(self) -> bool:
        taken, marks = self.taken(), self.marks()
        return bool(taken) and all(marks.get(b, -1) >= last for b, last in taken.items())

    def pushes(self, title: str) -> list[dict[str, object]]:
        return [r.json() for r in list(self.receiver.answered) if r.json()["title"] == title]

    # --- the story both tests tell ---------------------------------------------------

    def run_until_stored(self) -> None:
        wait_until(
            lambda: self.storage_state() == "ok", timeout=30, what="the hub to answer /healthz"
        )
        wait_until(
            lambda: self.receipted() and max(self.receipted().values()) >= 20,
            timeout=30,
            what="the first readings stored and receipted",
        )
        # A parent who keeps the episode log: one episode, started and stopped.
        started = httpx.post(
            self.url + "/api/episodes/start", json={"room": ROOM}, headers=self.headers, timeout=10
        )
        assert started.status_code == 201, started.text
        episode = started.json()["id"]
        stop = f"{self.url}/api/episodes/{episode}/stop"
        assert httpx.post(stop, headers=self.headers, timeout=10).status_code == 200

    def check_cannot_save(self, problem: str) -> None:
        """Not acknowledged, told, shown, and the dashboard read-only."""
        wait_until(
            lambda: self.storage_state() == "cannot_save",
            timeout=30,
            what="/healthz to say the hub cannot save",
        )
        health = self.health()
        assert health is not None and health["storage"]["problem"] == problem
        assert health["parts"]["database"] == "degraded"
        stored_then = self.marks()
        boot = max(self.taken(), key=lambda b: self.taken()[b])
        taken_then = self.taken()[boot]
        # The urgent push, straight from memory: the outbox table is on the failing disk.
        alarm = wait_until(
            lambda: self.pushes("The hub cannot save"), timeout=30, what="the urgent push"
        )[0]
        assert "check on your baby in person" in str(alarm["message"])
        # The sensor goes on taking readings; the hub stores none and receipts none.
        wait_until(
            lambda: self.taken()[boot] >= taken_then + 60,
            timeout=30,
            what="60 more readings taken while the hub cannot save",
        )
        assert self.marks() == stored_then
        claimed = self.receipted()
        assert all(claimed.get(b, -1) <= mark for b, mark in stored_then.items()), (
            claimed,
            stored_then,
        )
        assert self.held() > self.taken()[boot] - stored_then.get(boot, -1) - 5
        # Home Assistant and other automations read it from the broker.
        wait_until(
            lambda: any(s.state == "cannot_save" and s.problem == problem for s in self.storage),
            timeout=10,
            what="the retained storage state on MQTT",
        )
        # The dashboard: reads work, the page says why, a change is refused in plain words.
        rooms = httpx.get(self.url + "/api/rooms", headers=self.headers, timeout=10)
        assert rooms.status_code == 200 and rooms.json()[0]["room"] == ROOM
        for read in ("/api/alerts", f"/api/rooms/{ROOM}/history"):
            answer = httpx.get(self.url + read, headers=self.headers, timeout=10)
            assert answer.status_code == 200, (read, answer.text)
        log = httpx.get(f"{self.url}/api/episodes?room={ROOM}", headers=self.headers, timeout=10)
        assert log.status_code == 200 and len(log.json()) == 1, log.text
        page = httpx.get(self.url + "/", headers=self.headers, timeout=10)
        assert page.status_code == 200 and 'class="save-banner"' in page.text
        change = httpx.post(
            self.url + "/api/episodes/start", json={"room": ROOM}, headers=self.headers, timeout=10
        )
        assert change.status_code == 503, change.text
        assert change.json()["detail"].startswith("Not saved: the hub cannot save")
        status = subprocess.run(
            [sys.executable, "-m", "nursery", "status"],
            env=settings_env(self.hub_env),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "CANNOT SAVE" in status.stdout, status.stdout + status.stderr


@pytest.fixture
def watcher(mqtt_client: mqtt.Client) -> mqtt.Client:
    return mqtt_client


@pytest.fixture
def scene_on(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    watcher: mqtt.Client,
) -> Iterator[Callable[[Path], Scene]]:
    scenes: list[Scene] = []

    def build(disk: Path) -> Scene:
        scene = Scene(tmp_path, disk, broker, base_topic, receivers(), watcher)
        scenes.append(scene)
        return scene

    yield build
    for scene in scenes:
        scene.stop()


def test_a_full_disk_stops_acks_alerts_from_memory_survives_a_restart_and_saves_again(
    tmp_path: Path, scene_on: Callable[[Path], Scene]
) -> None:
    with small_tmpfs(tmp_path / "disk", size="8m") as disk:
        scene = scene_on(disk)
        scene.run_until_stored()
        filler = fill(disk)
        scene.check_cannot_save("full")
        # A power cut while the disk is full: the hub comes back up and finds it again.
        scene.hub.kill()
        scene.hub.start()
        wait_until(
            lambda: scene.storage_state() == "cannot_save",
            timeout=60,
            what="the restarted hub to find the disk full",
        )
        # Space comes back: the hub finds out by itself, stores what waited, says so.
        filler.unlink()
        wait_until(scene.all_stored, timeout=90, what="every reading taken to be stored")
        wait_until(
            lambda: scene.pushes("The hub is saving again"), timeout=60, what="the all-clear"
        )
        assert scene.storage_state() == "ok"
        assert scene.pushes("The hub cannot save")[0]["type"] == "warning"
        # Once, and once more by the restarted hub: memory is all it had to go on.
        assert len(scene.pushes("The hub cannot save")) == 2
        change = httpx.post(
            scene.url + "/api/episodes/start",
            json={"room": ROOM},
            headers=scene.headers,
            timeout=10,
        )
        assert change.status_code == 201, change.text
        scene.stop()
        assert scene.hub.proc.returncode == 0, scene.hub.output()[-3000:]


def test_a_read_only_card_stops_acks_alerts_and_loses_nothing_after_a_restart(
    tmp_path: Path, scene_on: Callable[[Path], Scene]
) -> None:
    image = tmp_path / "card.img"
    with loop_ext4(image, tmp_path / "card") as card:
        scene = scene_on(card)
        scene.run_until_stored()
        fail_ext4(card)
        scene.check_cannot_save("read_only")
        # A power cut: the hub starts on the read-only card, finds out and says so again.
        scene.hub.kill()
        scene.hub.start()
        wait_until(
            lambda: len(scene.pushes("The hub cannot save")) == 2,
            timeout=60,
            what="the hub restarted on the read-only card to push the alarm again",
        )
        assert scene.storage_state() == "cannot_save"
        log = httpx.get(f"{scene.url}/api/episodes?room={ROOM}", headers=scene.headers)
        assert log.status_code == 200 and len(log.json()) == 1, log.text
        # The parent restarts the Pi: the check at boot repairs the card, which mounts rw.
        assert scene.hub.stop() == 0, scene.hub.output()[-3000:]
        remount_after_fsck(image, card)
        scene.hub.start()
        wait_until(scene.all_stored, timeout=90, what="every reading taken to be stored")
        assert scene.storage_state() == "ok"
