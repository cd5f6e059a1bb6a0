"""Fault tests of the promise in docs/outbox.md: every reading taken is stored by the hub
exactly once, through a broker outage, kill -9 of any process, and a broken outbox.

Real Mosquitto, real `nursery firmware` and `nursery hub` processes, accelerated (a reading
every few ms). The firmware's outbox says what was taken (per boot, seq 0 up to its last
seq); the hub's database says what was stored. Waits are on conditions; the only sleeps
are the outages themselves.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import HealthMessage, ReadingMessage
from contract.topics import health_topic, reading_topic
from firmware import runner as firmware_runner
from firmware.config import FirmwareSettings
from firmware.outbox import Outbox, open_outbox
from firmware.parts import keeper as outbox_keeper
from mqttlink.settings import MqttSettings
from nursery.config import Settings
from tests.support import Mosquitto, free_port, wait_until
from tests.support.env import mqtt_env
from tests.support.processes import NurseryProcess

# Every test runs a broker, and the fault scenes take tens of seconds each.
pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROOM = "nursery"


class Rig:
    """A broker, a hub and a firmware on one base topic, and what their files say."""

    def __init__(self, workdir: Path, broker: Mosquitto, base: str, **firmware: str) -> None:
        self.workdir, self.broker, self.base = workdir, broker, base
        self.outbox = workdir / "fw" / "outbox.db"
        self.hub_db = workdir / "hub.db"
        self.http_port = free_port()
        on_broker = {**mqtt_env(broker.port, base), "NURSERY_MQTT__KEEPALIVE_S": "5"}
        self.hub_env = {
            **on_broker,
            "NURSERY_HUB__DB": str(self.hub_db),
            "NURSERY_HUB__HTTP_PORT": str(self.http_port),
            "NURSERY_HUB__CLIENT_ID": f"hub-{base}"[:23],
        }
        self.firmware_env = {
            **on_broker,
            "NURSERY_FIRMWARE__ROOM": ROOM,
            "NURSERY_FIRMWARE__SENSOR": "simulated",
            "NURSERY_FIRMWARE__OUTBOX": str(self.outbox),
            "NURSERY_FIRMWARE__HEALTH_EVERY_S": "0.5",
            **{f"NURSERY_FIRMWARE__{key.upper()}": value for key, value in firmware.items()},
        }
        self.hub: NurseryProcess | None = None
        self.firmware: NurseryProcess | None = None

    def start_hub(self) -> NurseryProcess:
        self.hub = NurseryProcess(self.workdir, "hub", self.hub_env)
        return self.hub

    def wait_for_hub(self) -> None:
        """Until the hub is connected to the broker (and so subscribed, a moment later)."""

        def connected() -> bool:
            assert self.hub is not None and self.hub.alive, self.hub and self.hub.output()
            try:
                response = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=5)
            except httpx.TransportError:
                return False
            return bool(response.json()["parts"]["mqtt"] == "ok")

        wait_until(connected, timeout=30, what="the hub to connect to the broker")

    def start_firmware(self) -> NurseryProcess:
        if self.firmware is None:
            self.firmware = NurseryProcess(self.workdir, "firmware", self.firmware_env)
        else:
            self.firmware.start()
        return self.firmware

    def stop(self) -> None:
        for process in (self.firmware, self.hub):
            if process is not None and process.alive:
                process.stop()

    # --- what the files say (read-only queries on live WAL databases) ---------------

    @staticmethod
    def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
        if not path.exists():
            return []
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            db.close()

    def taken(self) -> dict[str, int]:
        """Per boot, the last seq the firmware took: its readings are 0 up to that."""
        return {
            str(b): int(s)
            for b, s in self._rows(self.outbox, "SELECT boot_id, last_seq FROM boots")
        }

    def newest_boot(self) -> str | None:
        rows = self._rows(self.outbox, "SELECT boot_id FROM boots ORDER BY id DESC LIMIT 1")
        return str(rows[0][0]) if rows else None

    def held(self) -> int:
        return int(self._rows(self.outbox, "SELECT count(*) FROM readings")[0][0])

    def stored(self) -> list[tuple[str, int, int]]:
        """(boot id, seq, received_ms) of every reading in the hub's database."""
        return [
            (str(b), int(s), int(r))
            for b, s, r in self._rows(
                self.hub_db,
                "SELECT boots.boot_id, seq, received_ms FROM readings"
                " JOIN boots ON boots.id = readings.boot",
            )
        ]

    def marks(self) -> dict[str, int]:
        return {
            str(b): int(m)
            for b, m in self._rows(self.hub_db, "SELECT boot_id, contiguous_seq FROM boots")
        }

    def confirmed(self, boots: Callable[[dict[str, int]], dict[str, int]] = dict) -> bool:
        """The hub's marks reach the last seq taken, for the boots chosen from taken()."""
        marks = self.marks()
        wanted = boots(self.taken())
        return bool(wanted) and all(marks.get(b, -1) >= last for b, last in wanted.items())

    def assert_every_reading_stored_once(self) -> None:
        stored = [(boot, seq) for boot, seq, _ in self.stored()]
        assert len(stored) == len(set(stored))
        taken = {(boot, seq) for boot, last in self.taken().items() for seq in range(last + 1)}
        assert Outbox(self.outbox, cap=10**9).dropped_ranges() == []
        missing, extra = taken - set(stored), set(stored) - taken
        assert not missing, f"{len(missing)} taken but never stored, e.g. {sorted(missing)[:5]}"
        assert not extra, f"{len(extra)} stored but never taken, e.g. {sorted(extra)[:5]}"


@pytest.fixture
def rig_dir(tmp_path: Path) -> Path:
    (tmp_path / "fw").mkdir()
    return tmp_path


def test_a_broker_outage_of_thousands_of_readings_loses_nothing(
    rig_dir: Path, base_topic: str
) -> None:
    """The broker stops (cleanly, persistence on, as docs/outbox.md asks of an install)
    while the firmware takes 3000 readings, then comes back."""
    rate = 1000
    broker = Mosquitto(rig_dir, persistent=True)
    broker.start()
    rig = Rig(rig_dir, broker, base_topic, interval_s="0.004", drain_per_s=str(rate))
    try:
        rig.start_hub()
        rig.start_firmware()
        wait_until(lambda: len(rig.stored()) >= 100, timeout=30, what="readings at the hub")
        boot = rig.newest_boot()
        assert boot is not None

        broker.stop()
        down_from = rig.taken()[boot]
        wait_until(
            lambda: rig.taken()[boot] >= down_from + 3000,
            timeout=60,
            what="3000 readings taken with the broker down",
        )
        broker.start()
        up_from = rig.taken()[boot]  # all taken offline: the firmware reconnects later
        wait_until(
            lambda: rig.marks().get(boot, -1) >= rig.taken()[boot] - 500,
            timeout=90,
            what="the hub to catch up with the backlog",
        )
        assert rig.firmware is not None
        assert rig.firmware.stop() == 0, rig.firmware.output()[-2000:]
        wait_until(rig.confirmed, timeout=30, what="the hub to confirm the last readings")

        rig.assert_every_reading_stored_once()
        # The outage's readings reached the hub oldest first (live ones went in between).
        received = sorted((seq, at) for b, seq, at in rig.stored() if down_from < seq <= up_from)
        assert len(received) == up_from - down_from
        times = [at for _, at in received]
        assert times == sorted(times), "the backlog must drain in seq order"
        # Past what paho's memory queue held, the drain kept to its rate (bursts of at most
        # one second's worth).
        drained = times[1000:]
        if len(drained) > 2 * rate:
            span_s = (drained[-1] - drained[0]) / 1000
            assert span_s >= (len(drained) - 2 * rate) / rate, span_s
    finally:
        rig.stop()
        broker.stop()
    assert rig.hub is not None
    assert rig.firmware is not None
    assert "Traceback" not in rig.hub.output()
    assert "Traceback" not in rig.firmware.output()


def test_kill_9_of_firmware_broker_and_hub_loses_and_duplicates_nothing(
    rig_dir: Path, base_topic: str
) -> None:
    broker = Mosquitto(rig_dir, persistent=True)
    broker.start()
    rng = random.Random(6)  # the number: the same "random" points every run
    rig = Rig(rig_dir, broker, base_topic, interval_s="0.02", drain_per_s="500")
    try:
        rig.start_hub()
        firmware = rig.start_firmware()
        wait_until(lambda: len(rig.stored()) >= 20, timeout=30, what="readings at the hub")
        kills: list[str] = []
        for _round in range(3):
            victims = ["firmware", "broker", "hub"]
            rng.shuffle(victims)
            for victim in victims:
                # A random point: after 10-60 more readings taken (0.2-1.2 s).
                since = sum(rig.taken().values())
                more = rng.randint(10, 60)

                def taken_enough(target: int = since + more) -> bool:
                    return sum(rig.taken().values()) >= target

                wait_until(
                    taken_enough,
                    timeout=30,
                    what=f"{more} more readings before killing the {victim}",
                )
                if victim == "firmware":
                    firmware.kill()
                elif victim == "broker":
                    broker.kill()
                else:
                    assert rig.hub is not None
                    rig.hub.kill()
                kills.append(victim)
                threading.Event().wait(rng.uniform(0.1, 1.0))  # the outage itself
                if victim == "firmware":
                    firmware.start()
                elif victim == "broker":
                    broker.start()
                else:
                    rig.start_hub()
        assert len(kills) == 9
        assert len(rig.taken()) == 4, "one boot per firmware start"

        # Let the backlogs drain and the last restarts settle (the hub stores readings
        # taken after them), then stop the firmware cleanly: it waits for the hub to
        # confirm its last readings.
        newest = rig.newest_boot()
        assert newest is not None
        settled_from = rig.taken()[newest] + 25

        def drained(taken: dict[str, int]) -> dict[str, int]:
            return {b: settled_from if b == newest else s for b, s in taken.items()}

        wait_until(
            lambda: rig.confirmed(drained),
            timeout=60,
            what="the hub to store every reading of the killed boots",
        )
        assert firmware.stop() == 0, firmware.output()[-2000:]
        wait_until(rig.confirmed, timeout=30, what="the hub to confirm the last readings")
        assert rig.held() == 0
        rig.assert_every_reading_stored_once()
    finally:
        rig.stop()
        broker.stop()
    assert rig.hub is not None
    hub_log = rig.hub.output()
    assert "Traceback" not in firmware.output()
    assert hub_log.count("connected to MQTT broker") >= 4  # started, and after each kill


@pytest.fixture
def read_only_outbox(rig_dir: Path) -> Iterator[Path]:
    """An existing outbox the firmware cannot write: chmod, or chattr +i for root (who
    ignores file modes)."""
    path = rig_dir / "fw" / "outbox.db"
    Outbox(path, cap=10).close()
    if os.geteuid() != 0:
        path.chmod(0o400)
        path.parent.chmod(0o500)
        yield path
        path.parent.chmod(0o700)
        path.chmod(0o600)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make the outbox read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_outbox_still_lets_live_readings_through(
    rig_dir: Path, broker: Mosquitto, base_topic: str, read_only_outbox: Path
) -> None:
    rig = Rig(rig_dir, broker, base_topic, interval_s="0.02")
    try:
        rig.start_hub()
        rig.wait_for_hub()  # without an outbox nothing is sent twice: no hub, no reading
        firmware = rig.start_firmware()

        def health() -> HealthMessage | None:
            rows = Rig._rows(rig.hub_db, "SELECT health_json FROM rooms WHERE health_json != ''")
            found = [r[0] for r in rows if r[0]]
            return HealthMessage.decode(found[0].encode()) if found else None

        reported = wait_until(
            lambda: h if (h := health()) is not None and h.outbox_error else None,
            timeout=30,
            what="the health message to report the outbox error",
        )
        assert "outbox.db" in str(reported.outbox_error)
        # Many intervals later (and several retries of the outbox) it still runs.
        wait_until(lambda: len(rig.stored()) >= 300, timeout=60, what="300 live readings")
        assert firmware.alive
        seqs = sorted(seq for _, seq, _ in rig.stored())
        assert seqs == list(range(len(seqs))), "live readings carry on the boot's seq"
        assert firmware.stop() == 0
    finally:
        rig.stop()
    log = firmware.output()
    assert log.count("publishing live readings without it") == 1, "logged once"
    assert "Traceback" not in log


class Subscriber:
    """Everything on the room's reading and health topics."""

    def __init__(self, port: int, base: str) -> None:
        self.readings: list[ReadingMessage] = []
        self.healths: list[HealthMessage] = []
        self._lock = threading.Lock()
        self._reading_topic, self._health_topic = (
            reading_topic(base, ROOM),
            health_topic(base, ROOM),
        )
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(self._reading_topic, 1), (self._health_topic, 1)])
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if msg.topic == self._reading_topic:
                self.readings.append(ReadingMessage.decode(bytes(msg.payload)))
            else:
                self.healths.append(HealthMessage.decode(bytes(msg.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_full_disk_keeps_the_firmware_running_and_says_so(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The outbox fills its (simulated) disk after a few hundred readings; the only fake
    is at the SQLite edge: a page limit that fails writes exactly as a full disk does."""
    caplog.set_level(logging.INFO, logger="nursery.firmware")
    monkeypatch.setattr(
        outbox_keeper,
        "open_outbox",
        lambda path, cap: open_outbox(path, cap, max_pages=8),
    )
    settings = Settings(
        mqtt=MqttSettings(port=broker.port, base_topic=base_topic, keepalive_s=5),
        firmware=FirmwareSettings(
            room=ROOM,
            sensor="simulated",
            interval_s=0.01,
            outbox=tmp_path / "outbox.db",
            health_every_s=0.2,
        ),
    )
    sub = Subscriber(broker.port, base_topic)
    stop = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            firmware_runner.run(settings, stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: any(h.outbox_error and "full" in h.outbox_error for h in sub.healths),
            timeout=30,
            what="the health message to report a full outbox",
        )
        failed_at = max(r.seq for r in sub.readings)
        wait_until(
            lambda: max(r.seq for r in sub.readings) >= failed_at + 200,
            timeout=30,
            what="200 more live readings after the disk filled",
        )
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(15)
        sub.close()
    assert not thread.is_alive()
    assert errors == []
    seqs = sorted({r.seq for r in sub.readings})
    assert seqs == list(range(len(seqs)))
    assert caplog.text.count("publishing live readings without it") == 1
