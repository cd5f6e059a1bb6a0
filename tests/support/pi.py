"""A Pi in a test: the firmware's run() with its pins on gpiozero's MockFactory, and a
small stand-in for the hub that answers it over a real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
from gpiozero.pins.mock import MockFactory, MockPin
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import ReadingMessage, StoredMessage
from contract.topics import episode_stored_topic, stored_topic
from firmware.indicators import DEFAULT_DEBOUNCE_S
from firmware.runner import run
from firmware.sensors import Sensor
from nursery.config import Settings
from tests.support.wait import wait_until

LED_PIN = 17
BUTTON_PIN = 27


def contiguous(seqs: set[int]) -> int:
    """The receipt's mark: the highest seq up to which every reading from 0 is stored."""
    mark = -1
    while mark + 1 in seqs:
        mark += 1
    return mark


class PlayHub:
    """Plays the hub's side of the contract: answers readings with the retained stored
    receipt, and stores each episode event once per event id, answering every delivery
    with its `EpisodeStoredMessage`. `answering = False` plays a hub that is down."""

    def __init__(self, port: int, base_topic: str, *, answering: bool = True) -> None:
        self.base = base_topic
        self.answering = answering
        self._lock = threading.Lock()
        self.deliveries: list[EpisodeEventMessage] = []  # every event that arrived
        self.stored: dict[str, EpisodeEventMessage] = {}  # once per event id
        self._seqs: dict[str, set[int]] = {}
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, timeout=10, what="the play hub's SUBACK")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        self.subscribed.clear()
        client.subscribe([(f"{self.base}/+/reading", 1), (f"{self.base}/+/episode", 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        if message.topic.endswith("/episode"):
            event = EpisodeEventMessage.decode(payload)
            with self._lock:
                self.deliveries.append(event)
                if not self.answering:
                    return
                self.stored.setdefault(event.event_id, event)
            receipt = EpisodeStoredMessage(event.room, event.event_id)
            client.publish(episode_stored_topic(self.base, event.room), receipt.encode(), qos=1)
            return
        reading = ReadingMessage.decode(payload)
        with self._lock:
            if not self.answering:
                return
            self._seqs.setdefault(reading.boot_id, set()).add(reading.seq)
            marks = {boot: contiguous(seqs) for boot, seqs in self._seqs.items()}
        receipt_topic = stored_topic(self.base, reading.room)
        client.publish(
            receipt_topic, StoredMessage(reading.room, marks).encode(), qos=1, retain=True
        )

    def actions(self) -> list[str]:
        with self._lock:
            return [event.action for event in self.stored.values()]

    def delivered(self) -> list[EpisodeEventMessage]:
        with self._lock:
            return list(self.deliveries)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def play_hub(port: int, base_topic: str, *, answering: bool = True) -> Iterator[PlayHub]:
    hub = PlayHub(port, base_topic, answering=answering)
    try:
        yield hub
    finally:
        hub.close()


class Pi:
    """`run()` on a thread with its pins on a MockFactory, as the CLI would call it;
    `sensor` replaces the simulated one (a scripted DHT, at the hardware edge)."""

    def __init__(self, settings: Settings, sensor: Sensor | None = None) -> None:
        self.settings = settings
        self.sensor = sensor
        self.factory = MockFactory()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._last_edge = time.monotonic()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        # The loop runs (every part built: the button's pull-up alone comes earlier, half-way
        # through gpiozero's Button constructor) once the status LED first lights.
        wait_until(lambda: len(self.led.states) > 1, timeout=10, what="the status LED to light")

    def _main(self) -> None:
        try:
            run(self.settings, self.stop, pin_factory=self.factory, sensor=self.sensor)
        except BaseException as exc:
            self.error = exc

    @property
    def button(self) -> MockPin:
        pin: MockPin = self.factory.pin(BUTTON_PIN)
        return pin

    @property
    def led(self) -> MockPin:
        pin: MockPin = self.factory.pin(LED_PIN)
        return pin

    def press(self) -> None:
        self._after_last_edge()
        self.button.drive_low()

    def release(self) -> None:
        self._after_last_edge()
        self.button.drive_high()

    def tap(self) -> None:
        """A short press, held as long as a finger does (past the debounce)."""
        self.press()
        self.release()

    def _after_last_edge(self) -> None:
        """A finger is slower than the button's debounce: the next edge comes after it."""
        last = self._last_edge
        wait_until(lambda: time.monotonic() - last > 2 * DEFAULT_DEBOUNCE_S, what="a finger's pace")
        self._last_edge = time.monotonic()

    def shutdown(self) -> None:
        self.stop.set()
        self._thread.join(15)
        assert not self._thread.is_alive(), "run() did not return after stop"
        if self.error is not None:
            raise self.error

    def pin(self, number: int) -> MockPin:
        pin: MockPin = self.factory.pin(number)
        return pin


@contextmanager
def pi(settings: Settings, sensor: Sensor | None = None) -> Iterator[Pi]:
    node = Pi(settings, sensor)
    try:
        yield node
    finally:
        if node._thread.is_alive():
            node.shutdown()
