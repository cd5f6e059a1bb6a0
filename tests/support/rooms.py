"""Rooms that publish as the firmware would: through its own Publisher, or as raw messages."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from contract.messages import FaultMessage, ReadingMessage, new_boot_id
from contract.topics import fault_topic, reading_topic, status_topic
from firmware.publisher import Publisher
from tests.support.wait import wait_until

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from nursery.config import Settings


class SteadyRoom:
    """The Pi's real publisher sending one room's reading every 100 ms until stopped;
    `paused` keeps it connected but silent (no "offline" goodbye), as a hung sensor is."""

    def __init__(
        self, settings: Settings, temperature_c: float = 18.5, humidity_pct: float = 50.0
    ) -> None:
        self.room = settings.firmware.room
        self.boot_id = new_boot_id()
        self.publisher = Publisher(settings, self.boot_id)
        self.temperature_c, self.humidity_pct = temperature_c, humidity_pct
        self.sent = 0
        self.last_sent_at = 0.0  # time.monotonic() of the newest reading
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            if self.paused.is_set():
                continue
            reading = ReadingMessage(
                self.room,
                self.boot_id,
                self.sent,
                datetime.now(UTC),
                self.temperature_c,
                self.humidity_pct,
            )
            self.publisher.publish_reading(reading)
            self.sent += 1
            self.last_sent_at = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.publisher.close()


class TracePlayer:
    """Plays a room's temperature as the firmware would, every 50 ms, until stopped.

    The test moves the level (`player.level = 15.5`) and waits on what the hub does.
    """

    def __init__(self, settings: Settings) -> None:
        self.level = 19.0
        self.sent = 0
        self.boot_id = new_boot_id()
        self.publisher = Publisher(settings, self.boot_id)
        self.room = settings.firmware.room
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            if self._paused.is_set():
                continue
            reading = ReadingMessage(
                self.room, self.boot_id, self.sent, datetime.now(UTC), self.level, 50.0
            )
            self.publisher.publish_reading(reading)
            self.sent += 1

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def wait_readings(self, count: int) -> None:
        """Wait until `count` more readings went out: time passing, measured by events."""
        target = self.sent + count
        wait_until(lambda: self.sent >= target, timeout=30, what=f"{count} more readings")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.publisher.close()


class Monitor:
    """Publishes on the broker as one room's firmware would."""

    def __init__(self, client: mqtt.Client, base: str, room: str) -> None:
        self.client = client
        self.base = base
        self.room = room
        self.boot_id = new_boot_id()
        self.seq = 0

    def reading(
        self, temperature_c: float, humidity_pct: float, ts: datetime | None = None
    ) -> None:
        message = ReadingMessage(
            self.room,
            self.boot_id,
            self.seq,
            ts or datetime.now(UTC),
            temperature_c,
            humidity_pct,
        )
        self.seq += 1
        self._publish(reading_topic(self.base, self.room), message.encode())

    def status(self, value: Literal["online", "offline"]) -> None:
        self._publish(status_topic(self.base, self.room), value.encode(), retain=True)

    def fault(self, error: str, ts: datetime) -> None:
        message = FaultMessage(self.room, self.boot_id, ts, error, consecutive_failures=3)
        self._publish(fault_topic(self.base, self.room), message.encode())

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
