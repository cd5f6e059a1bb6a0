"""The firmware end to end against a real Mosquitto: readings, faults, status, reconnects."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware.contract import (
    FaultMessage,
    ReadingMessage,
    decode_status,
    fault_topic,
    new_boot_id,
    reading_topic,
    status_topic,
)
from firmware.publisher import Publisher
from firmware.runner import next_slot, run
from firmware.sensors import SensorUnavailable
from nursery.config import FirmwareSettings, MqttSettings, Settings
from tests.conftest import Mosquitto, wait_until

ROOM = "nursery"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _own_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path, so each test's firmware keeps its outbox (./outbox.db) to itself."""
    monkeypatch.chdir(tmp_path)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """A paho client that records everything under a base topic, re-subscribing after reconnects."""

    def __init__(self, port: int, base_topic: str) -> None:
        self.base_topic = base_topic
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, timeout=10, what="the test subscriber's SUBACK")

    def _on_connect(self, client: mqtt.Client, userdata: Any, *args: Any) -> None:
        self.subscribed.clear()
        client.subscribe(f"{self.base_topic}/#", qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, *args: Any) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            payload = bytes(message.payload)
            self._messages.append(Received(message.topic, payload, message.retain))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self._messages if m.topic == topic]

    def readings(self) -> list[ReadingMessage]:
        topic = reading_topic(self.base_topic, ROOM)
        return [ReadingMessage.decode(m.payload) for m in self.on(topic)]

    def faults(self) -> list[FaultMessage]:
        return [FaultMessage.decode(m.payload) for m in self.on(fault_topic(self.base_topic, ROOM))]

    def statuses(self) -> list[str]:
        return [decode_status(m.payload) for m in self.on(status_topic(self.base_topic, ROOM))]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def subscriber(port: int, base_topic: str) -> Iterator[Subscriber]:
    sub = Subscriber(port, base_topic)
    try:
        yield sub
    finally:
        sub.close()


def retained_status(port: int, base_topic: str) -> str | None:
    """What a newcomer sees first on the status topic: the retained message, if any."""
    with subscriber(port, base_topic) as sub:
        try:
            found = wait_until(
                lambda: sub.on(status_topic(base_topic, ROOM)), timeout=2, what="retained status"
            )
        except AssertionError:
            return None
        assert found[0].retain
        return decode_status(found[0].payload)


class Firmware:
    """`run()` on a thread, as the CLI would call it, with the stop event the signals set."""

    def __init__(self, settings: Settings) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(settings,), daemon=True)
        self._thread.start()

    def _main(self, settings: Settings) -> None:
        try:
            run(settings, self.stop)
        except BaseException as exc:
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"run() did not return within {timeout:g} s of stop"
        if self.error is not None:
            raise self.error


@contextmanager
def firmware(settings: Settings) -> Iterator[Firmware]:
    fw = Firmware(settings)
    try:
        yield fw
    finally:
        if fw.running:
            fw.stop.set()
            fw.shutdown()


def settings_for(port: int, base_topic: str, scenario: str = "steady", **mqtt: Any) -> Settings:
    return Settings(
        mqtt=MqttSettings(port=port, base_topic=base_topic, keepalive_s=5, **mqtt),
        firmware=FirmwareSettings(
            room=ROOM,
            sensor="simulated",
            interval_s=0.05,
            scenario=scenario,
        ),
    )


def at_least(count: int, items: list[T]) -> list[T]:
    """For wait_until: the items once there are enough of them, else nothing."""
    return items if len(items) >= count else []


def assert_one_boot_and_consecutive(readings: list[ReadingMessage]) -> None:
    assert len({r.boot_id for r in readings}) == 1
    seqs = [r.seq for r in readings]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


# --- tests --------------------------------------------------------------------------


def test_publishes_readings_and_status(broker: Mosquitto, base_topic: str) -> None:
    with (
        subscriber(broker.port, base_topic) as sub,
        firmware(settings_for(broker.port, base_topic)) as fw,
    ):
        readings = wait_until(lambda: at_least(10, sub.readings()), what="10 readings")
        assert [r.seq for r in readings[:10]] == list(range(10))
        assert_one_boot_and_consecutive(readings)
        now = datetime.now(UTC)
        for r in readings:
            assert r.room == ROOM
            assert now - timedelta(seconds=30) <= r.ts <= now
            assert 19.0 <= r.temperature_c <= 20.0
            assert 45.0 <= r.humidity_pct <= 55.0
        assert all(not m.retain for m in sub.on(reading_topic(base_topic, ROOM)))
        assert sub.statuses()[:1] == ["online"]
        assert retained_status(broker.port, base_topic) == "online"

        fw.shutdown()
        # close() waits for the broker to take `offline`, so it is there when run() returns.
        assert retained_status(broker.port, base_topic) == "offline"
        wait_until(
            lambda: sub.statuses()[-1:] == ["offline"], what="offline to the live subscriber"
        )
        assert sub.faults() == []


def test_readings_follow_the_interval_without_bunching(broker: Mosquitto, base_topic: str) -> None:
    with (
        subscriber(broker.port, base_topic) as sub,
        firmware(settings_for(broker.port, base_topic)),
    ):
        readings = wait_until(lambda: at_least(21, sub.readings()), what="21 readings")
    span = (readings[20].ts - readings[0].ts).total_seconds()
    # 20 intervals of 0.05 s; a busy machine may skip a slot, never run ahead.
    assert 0.9 <= span <= 3.0, span


def test_flaky_sensor_publishes_faults_and_keeps_publishing(
    broker: Mosquitto, base_topic: str
) -> None:
    settings = settings_for(broker.port, base_topic, scenario="flaky")
    with subscriber(broker.port, base_topic) as sub, firmware(settings):
        faults = wait_until(lambda: at_least(2, sub.faults()), what="two faults")
        count = len(sub.readings())
        wait_until(lambda: len(sub.readings()) > count, what="readings after the faults")
    readings = sub.readings()
    assert_one_boot_and_consecutive(readings)
    assert readings[0].seq == 0
    assert {f.boot_id for f in faults} == {readings[0].boot_id}
    assert faults[0].consecutive_failures == 1
    assert faults[1].consecutive_failures == 2
    assert "check wiring" in faults[0].error
    # The firmware publishes what the sensor said; judging a spike is the hub's job.
    assert any(r.temperature_c > 30.0 for r in readings)


def test_starts_before_its_broker(
    own_broker: Mosquitto, base_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nursery.firmware")
    own_broker.stop()
    with firmware(settings_for(own_broker.port, base_topic)) as fw:
        wait_until(
            lambda: "cannot reach MQTT broker" in caplog.text, what="the unreachable-broker warning"
        )
        assert fw.running
        own_broker.start()
        with subscriber(own_broker.port, base_topic) as sub:
            # Readings taken while the broker was down waited (in the outbox, and in paho's
            # queue) and arrive, from seq 0 on; a live one may overtake them.
            def gapless() -> list[int]:
                seqs = sorted({r.seq for r in sub.readings()})
                return seqs if len(seqs) >= 5 and seqs == list(range(len(seqs))) else []

            wait_until(gapless, what="readings from seq 0 on, without a gap")
            assert len({r.boot_id for r in sub.readings()}) == 1
            assert retained_status(own_broker.port, base_topic) == "online"
            fw.shutdown()
            wait_until(lambda: sub.statuses()[-1:] == ["offline"], what="offline")
    assert caplog.text.count("cannot reach MQTT broker") == 1, "logged once, not per retry"


def test_reconnects_after_the_broker_restarts(
    own_broker: Mosquitto, base_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nursery.firmware")
    with (
        subscriber(own_broker.port, base_topic) as sub,
        firmware(settings_for(own_broker.port, base_topic)) as fw,
    ):
        wait_until(lambda: len(sub.readings()) >= 3, what="readings before the restart")
        own_broker.stop()
        wait_until(lambda: "lost connection to MQTT broker" in caplog.text, what="lost connection")
        before = sub.readings()
        last_seq = before[-1].seq
        own_broker.start()
        wait_until(
            lambda: any(r.seq > last_seq + 5 for r in sub.readings()), what="readings after restart"
        )
        assert "reconnected to MQTT broker" in caplog.text
        after = [r for r in sub.readings()[len(before) :] if r.seq > last_seq]
        assert {r.boot_id for r in after} == {before[0].boot_id}
        seqs = [r.seq for r in after]
        assert seqs == sorted(set(seqs)), "seq keeps increasing across the reconnect"
        # The restarted broker lost its retained messages; the firmware said `online` again.
        assert retained_status(own_broker.port, base_topic) == "online"
        fw.shutdown()
    assert caplog.text.count("lost connection to MQTT broker") == 1


def test_stops_promptly_while_the_broker_is_down(own_broker: Mosquitto, base_topic: str) -> None:
    own_broker.stop()
    with firmware(settings_for(own_broker.port, base_topic)) as fw:
        started = time.monotonic()
        fw.shutdown(timeout=10.0)
    assert time.monotonic() - started < 10.0


def test_credentials_are_used_but_never_logged(
    broker: Mosquitto, base_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Hunter2"
    settings = settings_for(broker.port, base_topic, username="pi", password=password)
    with subscriber(broker.port, base_topic) as sub, firmware(settings) as fw:
        wait_until(lambda: len(sub.readings()) >= 2, what="readings with credentials")
        fw.shutdown()
    assert "firmware starting" in caplog.text
    assert password not in caplog.text


def test_a_missing_dht_stops_run_before_any_connection(broker: Mosquitto, base_topic: str) -> None:
    settings = Settings(
        mqtt=MqttSettings(port=broker.port, base_topic=base_topic),
        firmware=FirmwareSettings(room=ROOM, sensor="dht22", pin=4),
    )
    with pytest.raises(SensorUnavailable, match="GPIO4"):
        run(settings, threading.Event())
    assert retained_status(broker.port, base_topic) is None


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (100.0, 100.01, 110.0),  # the usual case: one interval on
        (100.0, 109.99, 110.0),  # a slow read does not push the grid
        (100.0, 110.0, 110.0),  # exactly on the next slot: read now
        (100.0, 125.0, 130.0),  # overran two slots: skip them, stay on the grid
        (100.0, 120.0, 120.0),
    ],
)
def test_next_slot_stays_on_the_grid(previous: float, now: float, expected: float) -> None:
    assert next_slot(previous, 10.0, now) == pytest.approx(expected)


def test_unreachable_broker_is_reported_once(
    own_broker: Mosquitto, base_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nursery.firmware")
    own_broker.stop()
    publisher = Publisher(settings_for(own_broker.port, base_topic), new_boot_id())
    try:
        wait_until(lambda: publisher.failed_attempts >= 2, what="a second connection attempt")
        assert not publisher.is_connected
    finally:
        publisher.close()
    assert caplog.text.count("cannot reach MQTT broker") == 1


def test_a_crashed_firmware_shows_offline_through_its_last_will(
    broker: Mosquitto, base_topic: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
    env.update(
        NURSERY_MQTT__PORT=str(broker.port),
        NURSERY_MQTT__BASE_TOPIC=base_topic,
        NURSERY_FIRMWARE__ROOM=ROOM,
        NURSERY_FIRMWARE__SENSOR="simulated",
        NURSERY_FIRMWARE__INTERVAL_S="0.05",
    )
    code = (
        "import threading\n"
        "from firmware.runner import run\n"
        "from nursery.config import Settings\n"
        "run(Settings(), threading.Event())\n"
    )
    with subscriber(broker.port, base_topic) as sub:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        try:
            wait_until(lambda: len(sub.readings()) >= 3, what="readings from the subprocess")
            assert sub.statuses() == ["online"]
        finally:
            proc.kill()  # no clean shutdown: only the broker can say we are gone
            proc.wait(10)
        wait_until(lambda: sub.statuses()[-1:] == ["offline"], what="the last will")
    assert retained_status(broker.port, base_topic) == "offline"
