"""The episode button end to end: a press on gpiozero's MockFactory becomes an
`EpisodeEventMessage` that waits in the outbox (a real SQLite file) and goes over a real
Mosquitto until a small stand-in for the hub answers with its receipt; presses made while
the broker is down, or before a restart, arrive afterwards."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from gpiozero.pins.mock import MockFactory, MockPin
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import ReadingMessage, StoredMessage
from contract.topics import episode_stored_topic, stored_topic
from firmware.config import FirmwareSettings
from firmware.indicators import DEFAULT_DEBOUNCE_S, confirm_flashes
from firmware.runner import run
from firmware.sensors import Sensor
from mqttlink.settings import MqttSettings
from nursery.config import Settings
from tests.conftest import Mosquitto, wait_until

ROOM = "nursery"
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


def settings_for(port: int, base_topic: str, outbox: Path) -> Settings:
    return Settings(
        mqtt=MqttSettings(port=port, base_topic=base_topic, keepalive_s=5),
        firmware=FirmwareSettings(
            room=ROOM, sensor="simulated", interval_s=0.05, outbox=outbox, health_every_s=5
        ),
    )


def events_held(outbox: Path) -> list[tuple[str, str]]:
    """(event id, action) of every event the outbox file holds, read on its own connection."""
    if not outbox.exists():
        return []
    db = sqlite3.connect(outbox)
    try:
        rows = db.execute("SELECT event_id, action FROM events ORDER BY n").fetchall()
    finally:
        db.close()
    return [(str(event_id), str(action)) for event_id, action in rows]


# --- tests --------------------------------------------------------------------------


def test_presses_start_and_stop_an_episode_and_leave_once_the_hub_has_them(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with (
        play_hub(broker.port, base_topic) as hub,
        pi(settings_for(broker.port, base_topic, outbox)) as node,
    ):
        before = datetime.now(UTC)

        node.tap()
        wait_until(lambda: hub.actions() == ["start"], what="the start event at the hub")
        node.tap()
        wait_until(lambda: hub.actions() == ["start", "stop"], what="the stop event")
        wait_until(lambda: events_held(outbox) == [], what="the outbox to let both go")
        start, stop = hub.stored.values()
        assert start.room == stop.room == ROOM
        assert start.event_id != stop.event_id
        assert before - timedelta(seconds=1) <= start.ts <= stop.ts <= datetime.now(UTC)
        node.shutdown()
    # Confirmed events are not sent again on the next start.
    assert events_held(outbox) == []


def test_a_long_press_is_one_episode_now(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with (
        play_hub(broker.port, base_topic) as hub,
        pi(settings_for(broker.port, base_topic, outbox)) as node,
    ):
        node.press()
        # Held for gpiozero's hold time (2 s): the event goes out while the finger is down.
        wait_until(lambda: hub.actions() == ["now"], timeout=10, what="the 'now' event")
        node.release()
        node.tap()
        wait_until(lambda: hub.actions() == ["now", "start"], what="a start after the long press")


def test_a_press_during_an_outage_arrives_when_the_broker_is_back(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with pi(settings_for(own_broker.port, base_topic, outbox)) as node:
        wait_until(lambda: node.led.state, what="the status LED on")  # connected, all well
        own_broker.stop()
        node.tap()
        held = wait_until(lambda: events_held(outbox), what="the press kept in the outbox")
        assert [action for _, action in held] == ["start"]
        own_broker.start()
        with play_hub(own_broker.port, base_topic) as hub:
            # Sent on reconnection; should the firmware beat the play hub's subscription
            # to the restarted broker, it comes with the next re-send, 30 s on.
            wait_until(
                lambda: hub.actions() == ["start"], timeout=45, what="the press after the outage"
            )
            assert hub.stored[held[0][0]].action == "start"
            wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")


def test_a_press_is_not_lost_across_a_restart(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    settings = settings_for(own_broker.port, base_topic, outbox)
    own_broker.stop()
    with pi(settings) as node:
        node.tap()
        held = wait_until(lambda: events_held(outbox), what="the press kept in the outbox")
        node.shutdown()
    assert events_held(outbox) == held, "still held after the firmware stopped"
    own_broker.start()
    with play_hub(own_broker.port, base_topic) as hub, pi(settings):
        wait_until(
            lambda: list(hub.stored) == [held[0][0]], what="the press made before the restart"
        )
        wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")


def test_an_unanswered_event_is_sent_again_on_reconnection_and_stored_once(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with pi(settings_for(own_broker.port, base_topic, outbox)) as node:
        with play_hub(own_broker.port, base_topic, answering=False) as silent:
            node.tap()
            wait_until(lambda: len(silent.delivered()) == 1, what="the event, unanswered")
        assert len(events_held(outbox)) == 1
        own_broker.stop()
        own_broker.start()
        with play_hub(own_broker.port, base_topic) as hub:
            wait_until(lambda: hub.actions() == ["start"], timeout=45, what="the event sent again")
            wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")
            event_id = silent.delivered()[0].event_id
            assert {e.event_id for e in hub.delivered()} == {event_id}


def test_the_led_confirms_a_press_and_goes_back_to_its_state(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    settings = settings_for(broker.port, base_topic, outbox)
    with play_hub(broker.port, base_topic), pi(settings) as node:
        wait_until(lambda: node.led.state, what="the status LED steady on")
        node.led.clear_states()
        node.tap()
        steps = confirm_flashes("start")
        # From steady on: dark, two short flashes, dark, then steady on again.
        wait_until(lambda: len(node.led.states) >= len(steps) + 2, what="the whole confirmation")
        seen = node.led.states[1 : len(steps) + 2]
        assert [bool(s.state) for s in seen] == [lit for lit, _ in steps] + [True], seen
        # Each change came after the previous step's time (a busy machine may be late).
        for change, (_, seconds) in zip(seen[1:], steps, strict=True):
            assert seconds - 0.02 <= change.timestamp <= seconds + 0.3, seen
        assert node.led.state
