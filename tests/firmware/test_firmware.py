"""The firmware end to end against a real Mosquitto: readings, faults, status, reconnects."""

from __future__ import annotations

import io
import logging
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
import paho.mqtt.publish
import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory, MockPin
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import ValidationError

from contract.alert_state import AlertEntry, AlertStateMessage
from contract.messages import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    decode_status,
    new_boot_id,
)
from contract.topics import alert_topic, fault_topic, health_topic, reading_topic, status_topic
from firmware.check import check_wiring
from firmware.config import FirmwareSettings
from firmware.indicators import FAST_BLINK, POWER_OFF_S, SLOW_BLINK
from firmware.publisher import Publisher
from firmware.runner import next_slot, run
from firmware.sensors import SensorReadError, SensorReading, SensorUnavailable
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, SettingsError
from nursery.config import Settings, load_settings
from tests.support import Mosquitto, wait_until, without_settings
from tests.support.pi import pi, play_hub

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
            # "online" goes out on connect, after paho's queued readings: wait for it here,
            # or a newcomer subscribing meanwhile gets it live rather than retained.
            wait_until(lambda: "online" in sub.statuses(), what="online")
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
        # The restarted broker lost its retained messages; the firmware said `online` again
        # (on connect, after paho's queued readings: waited for as in the test above).
        wait_until(lambda: "online" in sub.statuses()[1:], what="online again")
        assert retained_status(own_broker.port, base_topic) == "online"
        fw.shutdown()
    # One warning for the one outage (a first connect that a loaded machine made retry is
    # not this outage: counted from the first connection on).
    since_connected = caplog.text.split("connected to MQTT broker", 1)[1]
    assert since_connected.count("lost connection to MQTT broker") == 1


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
    env = without_settings()
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
        "from nursery.config import load_settings\n"
        "run(load_settings(), threading.Event())\n"
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


# --- the Pi's own parts: LEDs, buzzer, power switch, sensor health ------------------
# Pins on gpiozero's MockFactory; a scripted DHT at the hardware edge; a play hub that
# answers the way the hub does (tests/firmware/test_episode_button.py).

LED_PIN, COLD_LED_PIN, BUZZER_PIN, POWER_PIN = 17, 23, 22, 24


class HungDHT:
    """A DHT22 as it hangs: it answers with `temperature_c` until told to hang, then
    "not found" on every read until its power pin has been cut and restored."""

    min_read_spacing_s = 0.0

    def __init__(self, temperature_c: float = 19.5, *, hung: bool = False) -> None:
        self.temperature_c = temperature_c
        self.hung = hung
        self.power: MockPin | None = None
        self._power_changes = 0

    def watch(self, power: MockPin) -> None:
        """Wire the sensor's VCC to this pin from now on."""
        self._power_changes = len(power.states)
        self.power = power

    def read(self) -> SensorReading:
        if self.power is not None and len(self.power.states) > self._power_changes:
            changes = [bool(s.state) for s in self.power.states[self._power_changes :]]
            self._power_changes = len(self.power.states)
            if False in changes and self.power.state:
                self.hung = False  # off, then on again: it woke up
        if self.hung:
            raise SensorReadError("DHT sensor not found, check wiring")
        return SensorReading(self.temperature_c, 50.0)

    def close(self) -> None:
        pass


def parts_settings(port: int, base_topic: str, tmp_path: Path, **firmware: Any) -> Settings:
    return Settings(
        mqtt=MqttSettings(port=port, base_topic=base_topic, keepalive_s=5),
        firmware=FirmwareSettings(
            room=ROOM,
            sensor="simulated",
            interval_s=0.05,
            outbox=tmp_path / "outbox.db",
            **firmware,
        ),
        rules=RulesSettings(cold_for_s=0),
    )


def publish_retained(port: int, topic: str, payload: bytes) -> None:
    """Play the hub's retained alert state."""
    paho.mqtt.publish.single(topic, payload, qos=1, retain=True, hostname="127.0.0.1", port=port)


def steady_on(pin: MockPin, sub: Subscriber, readings: int = 10) -> bool:
    """The LED is on and does not change while `readings` more readings go by."""
    wait_until(lambda: pin.state, what="the LED on")
    pin.clear_states()
    count = len(sub.readings())
    wait_until(lambda: len(sub.readings()) >= count + readings, what=f"{readings} readings")
    return pin.state and changes(pin) == []


def changes(pin: MockPin) -> list[tuple[float, bool]]:
    """(seconds since the previous change, state) for each change after the first state."""
    return [(s.timestamp, bool(s.state)) for s in pin.states[1:]]


def blinks_every(pin: MockPin, seconds: float, count: int = 4) -> bool:
    """The last `count` changes came `seconds` apart (give or take a busy machine)."""
    recent = changes(pin)[-count:]
    return len(recent) == count and all(abs(t - seconds) < 0.12 for t, _ in recent)


@pytest.mark.slow
def test_the_status_led_is_steady_while_the_hub_answers_and_blinks_slowly_without_it(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    settings = parts_settings(own_broker.port, base_topic, tmp_path)
    with (
        play_hub(own_broker.port, base_topic),
        subscriber(own_broker.port, base_topic) as sub,
        pi(settings) as node,
    ):
        assert steady_on(node.led, sub, readings=20), "steady while the hub answers"
        own_broker.stop()
        wait_until(lambda: blinks_every(node.led, SLOW_BLINK.on_s), what="a slow blink")


@pytest.mark.slow
def test_a_hub_that_stops_answering_blinks_the_led_after_hub_lost_after_s_until_it_answers(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    lost_after = 2.0
    settings = parts_settings(broker.port, base_topic, tmp_path, hub_lost_after_s=lost_after)
    with (
        subscriber(broker.port, base_topic) as sub,
        pi(settings) as node,
        play_hub(broker.port, base_topic) as hub,
    ):
        assert steady_on(node.led, sub), "steady while the hub answers"
        hub.answering = False
        node.led.clear_states()  # times below count from here
        # The broker is up; only the hub is silent: hub_lost_after_s later, the Pi knows.
        wait_until(
            lambda: blinks_every(node.led, SLOW_BLINK.on_s, 2),
            timeout=lost_after + 7,  # well before the 10 s it used to be
            what="a slow blink once the hub is silent",
        )
        # Not before: a reading sent just before the hub fell silent (one interval, 0.05 s)
        # may start the wait, and the blink's first change comes at the earliest then.
        assert changes(node.led)[0][0] >= lost_after - 0.1, changes(node.led)
        hub.answering = True
        assert steady_on(node.led, sub), "steady again with the hub's next answer"


@pytest.mark.slow
def test_a_failing_sensor_blinks_the_led_fast_and_is_power_cycled_once(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    settings = parts_settings(
        broker.port,
        base_topic,
        tmp_path,
        power_pin=POWER_PIN,
        power_cycle_after=3,
        read_retries=0,
        health_every_s=0.5,
    )
    sensor = HungDHT(hung=True)
    with subscriber(broker.port, base_topic) as sub, pi(settings, sensor) as node:
        power = node.pin(POWER_PIN)
        sensor.watch(power)
        assert [bool(s.state) for s in power.states] == [False, True], "powered at start"
        wait_until(lambda: blinks_every(node.led, FAST_BLINK.on_s), what="a fast blink")
        # After three failed readings: off, then on again; and the sensor answers again.
        wait_until(
            lambda: [s for _, s in changes(power)] == [True, False, True], what="a power cycle"
        )
        off_for = changes(power)[2][0]
        assert POWER_OFF_S - 0.05 <= off_for <= POWER_OFF_S + 0.5
        wait_until(lambda: sub.readings(), what="readings once the sensor woke up")
        faults = sub.faults()
        assert [f.consecutive_failures for f in faults[:3]] == [1, 2, 3]
        assert steady_on(node.led, sub), "steady again once the sensor answers"

        def cycled_health() -> list[HealthMessage]:
            found = [
                HealthMessage.decode(m.payload) for m in sub.on(health_topic(base_topic, ROOM))
            ]
            return [h for h in found if h.power_cycles == 1 and h.error_ratio is not None]

        health = wait_until(cycled_health, what="the power cycle in the health message")[-1]
        assert health.last_power_cycle is not None
        assert health.errors_by_kind is not None and health.errors_by_kind["not_found"] >= 3
        assert health.sensor_window_s == 1800
        assert health.sensor == settings.firmware.sensor  # the hub's accuracy comes from it
        assert health.error_ratio is not None and health.error_ratio > 0
        # It hangs again at once: no second cycle within the cool-down.
        sensor.hung = True
        count = len(sub.faults())
        wait_until(lambda: len(sub.faults()) >= count + 5, what="five more failed readings")
        assert len(changes(power)) == 3, "one cycle per cool-down"


def test_the_cold_led_follows_the_hubs_alert_state(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    settings = parts_settings(broker.port, base_topic, tmp_path, cold_led_pin=COLD_LED_PIN)
    now = datetime.now(UTC)
    cold = AlertStateMessage(
        ROOM,
        "acknowledged",
        now,
        "cold",
        "Sam",
        (AlertEntry(7, "cold", "alert", "acknowledged", now, "Sam"),),
        15.4,
    )
    ok = AlertStateMessage(ROOM, "ok", None, None, None, (), 18.5)
    with play_hub(broker.port, base_topic), pi(settings) as node:
        cold_led = node.pin(COLD_LED_PIN)
        wait_until(lambda: node.led.state and not cold_led.state, what="all well, not cold")
        publish_retained(broker.port, alert_topic(base_topic, ROOM), cold.encode())
        wait_until(lambda: cold_led.state, what="the cold LED on while the hub says cold")
        publish_retained(broker.port, alert_topic(base_topic, ROOM), ok.encode())
        wait_until(lambda: not cold_led.state, what="the cold LED off again")


@pytest.mark.slow
def test_a_cold_room_the_hub_cannot_hear_of_chirps_the_buzzer_and_lights_the_cold_led(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="nursery.firmware")
    settings = parts_settings(
        own_broker.port,
        base_topic,
        tmp_path,
        buzzer_pin=BUZZER_PIN,
        cold_led_pin=COLD_LED_PIN,
        local_cold_below_c=16.0,
    )
    sensor = HungDHT(temperature_c=14.5)
    with (
        play_hub(own_broker.port, base_topic),
        subscriber(own_broker.port, base_topic) as sub,
        pi(settings, sensor) as node,
    ):
        buzzer, cold_led = node.pin(BUZZER_PIN), node.pin(COLD_LED_PIN)
        # The hub answers and has not called the room cold: its word holds, no chirp.
        assert steady_on(node.led, sub), "all well while the hub answers"
        assert not cold_led.state and changes(buzzer) == []
        own_broker.stop()
        # On its own, the Pi judges 14.5 °C cold: one chirp of three beeps, the cold LED on.
        own_broker_down = time.monotonic()
        wait_until(lambda: [s for _, s in changes(buzzer)] == [True, False] * 3, what="a chirp")
        assert time.monotonic() - own_broker_down < 5
        assert cold_led.state
        assert "the buzzer warns" in caplog.text
        count = len(changes(buzzer))
        wait_until(lambda: blinks_every(node.led, SLOW_BLINK.on_s, 3), what="three slow blinks")
        assert len(changes(buzzer)) == count, "rate-limited: one chirp per buzzer_every_s"


def test_pins_must_not_collide_and_off_turns_a_part_off() -> None:
    with pytest.raises(ValidationError, match=r"GPIO4 is already firmware\.pin"):
        FirmwareSettings(buzzer_pin=4)
    with pytest.raises(ValidationError, match=r"GPIO27 is already firmware\.button_pin"):
        FirmwareSettings(power_pin=27)
    with pytest.raises(ValidationError, match="cold LED needs the status LED"):
        FirmwareSettings.model_validate({"led_pin": "off", "cold_led_pin": 5})
    fitted = FirmwareSettings.model_validate(
        {"led_pin": "off", "button_pin": "none", "buzzer_pin": 17}
    )
    assert fitted.pins() == {
        "pin": 4,
        "led_pin": None,
        "button_pin": None,
        "buzzer_pin": 17,
        "power_pin": None,
        "cold_led_pin": None,
    }


def test_a_pin_collision_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "nursery.toml"
    config.write_text("[firmware]\nled_pin = 4\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert str(caught.value) == (
        "firmware.led_pin (NURSERY_FIRMWARE__LED_PIN): GPIO4 is already firmware.pin (got '4')"
    )


def test_a_part_whose_pin_is_taken_is_left_out_and_the_rest_works(
    broker: Mosquitto, base_topic: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="nursery.firmware")
    factory = MockFactory()
    squatter = LED(BUZZER_PIN, pin_factory=factory)  # something else holds the buzzer's pin
    settings = parts_settings(broker.port, base_topic, tmp_path, buzzer_pin=BUZZER_PIN)
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop), kwargs={"pin_factory": factory})
    with play_hub(broker.port, base_topic):
        thread.start()
        try:
            wait_until(lambda: factory.pin(LED_PIN).state, what="the status LED all the same")
        finally:
            stop.set()
            thread.join(10)
    squatter.close()
    assert "firmware.buzzer_pin: cannot open the buzzer on GPIO22" in caplog.text
    assert "running without the buzzer" in caplog.text


@pytest.mark.slow
def test_check_lists_the_pins_and_lights_the_leds(tmp_path: Path) -> None:
    settings = Settings(
        firmware=FirmwareSettings(
            sensor="simulated", power_pin=POWER_PIN, cold_led_pin=COLD_LED_PIN
        )
    )
    factory = MockFactory()
    out, err = io.StringIO(), io.StringIO()
    assert check_wiring(settings, threading.Event(), out=out, err=err, pin_factory=factory) == 0
    text = out.getvalue()
    assert "  status LED      GPIO17  firmware.led_pin" in text
    assert "  episode button  GPIO27  firmware.button_pin" in text
    assert "  buzzer          off     firmware.buzzer_pin" in text
    assert f"  sensor power    GPIO{POWER_PIN}  firmware.power_pin" in text
    assert "status LED and cold LED lit while the check runs" in text
    assert "5 of 5 readings good" in text
    # Lit during the check, off and released after it.
    assert [bool(s.state) for s in factory.pin(LED_PIN).states] == [False, True, False]
    assert [bool(s.state) for s in factory.pin(POWER_PIN).states][:2] == [False, True]


def test_check_reports_the_pins_on_the_command_line(tmp_path: Path) -> None:
    env = without_settings()
    env.update(
        NURSERY_FIRMWARE__SENSOR="simulated",
        NURSERY_FIRMWARE__BUZZER_PIN="22",
        GPIOZERO_PIN_FACTORY="mock",
    )
    result = subprocess.run(
        [sys.executable, "-m", "nursery", "firmware", "--check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "  buzzer          GPIO22  firmware.buzzer_pin" in result.stdout
    assert "buzzer: one chirp" in result.stdout
