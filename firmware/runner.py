"""The firmware's main loop: read the sensor on a fixed schedule, keep each reading in the
outbox, publish it, and re-send what the hub has not confirmed; keep the episode button's
events the same way; show on the LEDs and the buzzer how the room and the link are doing;
and power-cycle a hung sensor.

The CLI builds the settings, installs the signal handlers that set `stop` and calls
`run`; everything here waits on `stop`, so a SIGTERM ends the loop within one wait. One
thread does all the work (the outbox is not shared); paho's thread only hands over what
the hub says, and gpiozero's the button's presses, each through a queue.
docs/outbox.md describes the rules this loop follows; hardware/README.md what the LEDs,
the button and the buzzer mean.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from contract.alert_state import AlertStateMessage
from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    StoredMessage,
    new_boot_id,
)
from firmware.config import FirmwareConfig, FirmwareSettings
from firmware.hub_contact import HubContact
from firmware.indicators import (
    POWER_SETTLE_S,
    ButtonEvent,
    IndicatorError,
    Indicators,
    LocalColdJudge,
    RoomSignals,
    hub_says_cold,
    room_signals,
)
from firmware.outbox import Outbox, OutboxError, cap_readings, open_outbox
from firmware.publisher import MAX_QUEUED_MESSAGES, Publisher
from firmware.sensor_health import (
    DEFAULT_WINDOW_S,
    ObservedSensor,
    PowerCyclePolicy,
    SensorHealth,
)
from firmware.sensors import Sensor, SensorReader, SensorReading, open_sensor
from mqttlink.systemd import LoopWatchdog

log = logging.getLogger("nursery.firmware")

# Between two drain steps; each sends what the rate allows since the last one.
DRAIN_TICK_S: Final = 0.5
# After a (re)connection, wait this long for the hub's retained receipt before re-sending.
SETTLE_S: Final = 1.0
# Without any receipt for this long, allow a few re-sends anyway: a probe of a silent hub.
PROBE_EVERY_S: Final = 60.0
# After a look for due readings found them all, the next look waits at most this long.
QUIET_RECHECK_S: Final = 5.0
# On a clean stop, how long to wait for the hub to confirm the readings still in flight.
FLUSH_S: Final = 3.0
# A button event the hub has not confirmed is sent again this often (and on reconnection).
EVENT_RESEND_S: Final = 30.0
# How often to look for button events due again.
EVENT_CHECK_S: Final = 1.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def next_slot(previous_slot: float, interval_s: float, now: float) -> float:
    """The first slot of the grid `previous_slot + k * interval_s` (k ≥ 1) not before now.

    Slots sit on a fixed grid (no drift from the time a read or publish takes); slots
    missed because a read with retries overran are skipped rather than bunched up.
    """
    slot = previous_slot + interval_s
    if slot < now:
        slot += math.ceil((now - slot) / interval_s) * interval_s
    return slot


def resend_grace_s(interval_s: float) -> float:
    """How long a published reading may go unconfirmed before it is sent again: long
    enough for the hub's receipt (rate-limited to one a second) to come back."""
    return max(5.0, 3 * interval_s)


def outbox_retry_s(interval_s: float) -> float:
    """How often a failing outbox is tried again: every ten readings, 1-60 s."""
    return min(60.0, max(1.0, 10 * interval_s))


def resend_window(drain_per_s: float) -> int:
    """Most re-sends between two receipts: ten seconds' worth, at least 100. A hub that has
    gone quiet is not flooded (its broker queue is finite); a live hub answers every second."""
    return max(100, math.ceil(10 * drain_per_s))


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class Receipts:
    """The hub's marks, merged on paho's thread, read by the main loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marks: dict[str, int] = {}
        self._changed = False
        self.count = 0  # receipts received; a change says the hub is alive

    def add(self, receipt: StoredMessage) -> None:
        with self._lock:
            for boot_id, mark in receipt.boots.items():
                if mark > self._marks.get(boot_id, -1):
                    self._marks[boot_id] = mark
                    self._changed = True
            self.count += 1

    def all(self) -> dict[str, int]:
        with self._lock:
            return dict(self._marks)

    def changed(self) -> dict[str, int] | None:
        """The marks when they moved since the last call, else None."""
        with self._lock:
            if not self._changed:
                return None
            self._changed = False
            return dict(self._marks)


def run(
    settings: FirmwareConfig,
    stop: threading.Event,
    *,
    pin_factory: Any = None,
    sensor: Sensor | None = None,
    wall_clock: Callable[[], datetime] = utc_now,
) -> None:
    """Read and publish until `stop` is set; SensorUnavailable propagates before connecting.

    `pin_factory` is gpiozero's, for the LEDs, button, buzzer and power switch: None for
    gpiozero's default (the Pi's own pins, or GPIOZERO_PIN_FACTORY); tests pass a
    MockFactory. `sensor`, when given, replaces the one the settings name (tests script
    a failing sensor with it); it is closed like any other. `wall_clock` stamps readings,
    faults and health: the Pi's clock, which has no battery and may be hours off until NTP
    answers (tests play such a clock with it); the schedule runs on the monotonic clock.
    """
    firmware = settings.firmware
    sensor = open_sensor(firmware) if sensor is None else sensor
    boot_id = new_boot_id()
    log.info(
        "firmware starting: room %s, sensor %s, broker %s:%d, every %g s, outbox %s (boot %s)",
        firmware.room,
        firmware.sensor if firmware.sensor != "simulated" else f"simulated ({firmware.scenario})",
        settings.mqtt.host,
        settings.mqtt.port,
        firmware.interval_s,
        firmware.outbox,
        boot_id,
    )
    try:
        node = _Firmware(settings, sensor, boot_id, stop, pin_factory, wall_clock)
    except BaseException:
        sensor.close()
        raise
    try:
        node.loop()
    finally:
        try:
            sensor.close()
        finally:
            node.close()
    log.info("firmware stopped")


_PARTS: Final = {
    "led_pin": "status LED",
    "button_pin": "episode button",
    "buzzer_pin": "buzzer",
    "power_pin": "sensor power switch",
    "cold_led_pin": "cold LED",
}


def open_indicators(
    firmware: FirmwareSettings,
    on_episode: Callable[[ButtonEvent], None],
    pin_factory: Any = None,
) -> Indicators | None:
    """The LEDs, button, buzzer and power switch the settings name; a part whose pin cannot
    be opened is left out (logged, naming its setting), because the readings matter more.
    None when this machine has no GPIO at all."""
    pins: dict[str, int | None] = {key: getattr(firmware, key) for key in _PARTS}
    while True:
        try:
            return Indicators(
                led_pin=pins["led_pin"],
                button_pin=pins["button_pin"],
                buzzer_pin=pins["buzzer_pin"],
                power_pin=pins["power_pin"],
                cold_led_pin=pins["cold_led_pin"],
                on_episode=on_episode if pins["button_pin"] is not None else None,
                warn_interval_s=firmware.buzzer_every_s,
                pin_factory=pin_factory,
            )
        except IndicatorError as exc:
            fitted = [_PARTS[key] for key, pin in pins.items() if pin is not None]
            if exc.no_gpio or exc.setting not in pins:
                # Expected off a Pi with the simulated sensor (the demo, the tests).
                level = logging.INFO if firmware.sensor == "simulated" else logging.ERROR
                log.log(level, "no GPIO for the %s: %s", ", ".join(fitted), exc)
                return None
            log.error(
                "firmware.%s: %s; running without the %s", exc.setting, exc, _PARTS[exc.setting]
            )
            pins[exc.setting] = None
            if exc.setting == "led_pin" and pins["cold_led_pin"] is not None:
                log.error("firmware.cold_led_pin: the cold LED needs the status LED; left out")
                pins["cold_led_pin"] = None


class _Firmware:
    """The state of one firmware boot: sensor reader, outbox, publisher, indicators,
    counters."""

    def __init__(
        self,
        settings: FirmwareConfig,
        sensor: Sensor,
        boot_id: str,
        stop: threading.Event,
        pin_factory: Any = None,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.wall_clock = wall_clock
        self.firmware = settings.firmware
        self.boot_id = boot_id
        self.stop = stop
        interval = self.firmware.interval_s
        rules = settings.rules
        # The sensor's health, the hub's own measure (failed slots) and every attempt's.
        self.health = SensorHealth(window_s=DEFAULT_WINDOW_S, stuck_after_s=rules.stuck_for_s)
        observed = ObservedSensor(sensor, self.health, time.monotonic)
        self.reader = SensorReader(
            observed, self.firmware.read_retries, sensor.min_read_spacing_s, stop
        )
        self.power_policy = PowerCyclePolicy(
            self.firmware.power_cycle_after, self.firmware.power_cycle_cooldown_s
        )
        self._last_power_cycle: datetime | None = None
        local_cold = self.firmware.local_cold_below_c
        self.judge = LocalColdJudge(
            threshold_c=rules.effective("cold_below_c") if local_cold is None else local_cold,
            hold_s=rules.cold_for_s,
            clear_c=rules.effective("cold_clear_c") if local_cold is None else None,
        )
        self.contact = HubContact(  # from started_at: a grace for the first connection
            self.firmware.hub_lost_after_s, started_at=time.monotonic()
        )
        self._hub_alert: AlertStateMessage | None = None  # set on paho's thread
        self._presses: queue.SimpleQueue[ButtonEvent] = queue.SimpleQueue()
        self._events_stored: queue.SimpleQueue[str] = queue.SimpleQueue()
        # Events kept in memory only while the outbox fails: event id -> (message, sent at).
        self._loose_events: dict[str, tuple[EpisodeEventMessage, float | None]] = {}
        self._events_at = 0.0
        self._resend_all_events = False
        self._reachable: bool | None = None
        self._hub_silent = False  # "not answering" was logged
        self._warned = False
        self.indicators: Indicators | None = None
        self.indicators = open_indicators(self.firmware, self._on_press, pin_factory)
        if self.indicators is not None and self.indicators.power is not None:
            # The sensor was unpowered until now: let it wake before the first read.
            stop.wait(POWER_SETTLE_S)
        self.cap = cap_readings(self.firmware.outbox_cap_days, interval)
        self.grace_s = resend_grace_s(interval)
        self.retry_s = outbox_retry_s(interval)
        self.window = resend_window(self.firmware.drain_per_s)
        self.next_seq = 0
        self._handed: list[tuple[str, int]] = []  # kept readings paho queued while offline

        self.receipts = Receipts()
        self.outbox: Outbox | None = None
        self.outbox_error: str | None = None
        self._logged_error: str | None = None
        self._retry_at = 0.0
        self._pending = 0  # last known, for health while the outbox is down
        self._dropped = 0
        self._open_outbox()

        try:
            self.publisher = Publisher(
                settings,
                boot_id,
                receipt_rooms=self._rooms(),
                on_receipt=self.receipts.add,
                on_episode_stored=self._on_event_stored,
                on_alert=self._on_alert,
            )
        except BaseException:
            if self.outbox is not None:
                self.outbox.close()
            if self.indicators is not None:
                self.indicators.close()
            raise
        now = time.monotonic()
        self._hub_heard = 0
        self._connections = 0
        self._connected_at = now
        self._receipts_seen = 0
        self._receipts_at_connect = 0
        self._last_receipt_at = now
        self._credits = self.window
        self._tokens = 0.0
        self._tokens_at = now
        self._next_drain = now
        self._quiet_until = now  # no need to look for due readings before this
        self._health_at = now

    # --- the loop -------------------------------------------------------------------

    def loop(self) -> None:
        interval = self.firmware.interval_s
        slot = time.monotonic()
        self._show()
        # Fed by each turn that ends (READY=1 after the first): a hung read stops the pings.
        watchdog = LoopWatchdog()
        while not self.stop.is_set():
            if time.monotonic() >= slot:
                self._reading_slot()
                now = time.monotonic()
                following = next_slot(slot, interval, now)
                if following - slot > interval * 1.5:
                    log.debug("reading took too long; skipped %g s of slots", following - slot)
                slot = following
            self._housekeeping()
            watchdog.turned()
            # Receipts, re-sends, health and outbox retries run at most DRAIN_TICK_S late.
            self.stop.wait(max(0.0, min(slot, self._next_drain) - time.monotonic()))
        watchdog.stopping()
        self._flush()

    def _reading_slot(self) -> None:
        missed = self.reader.consecutive_failures
        reading = self.reader.read()
        if reading is None and self.stop.is_set():
            return  # stopped during the read: no outcome to count
        now = time.monotonic()
        self.health.record_slot(now, reading)
        if reading is not None:
            if missed:
                log.info("sensor recovered after %d missed reading(s)", missed)
            self.judge.update(reading.temperature_c, now)
            self._take_and_publish(reading)
        else:
            error = self.reader.last_error or "unknown error"
            log.warning(
                "sensor read failed after %d attempt(s): %s (%d reading(s) missed in a row)",
                self.firmware.read_retries + 1,
                error,
                self.reader.consecutive_failures,
            )
            self.publisher.publish_fault(
                FaultMessage(
                    room=self.firmware.room,
                    boot_id=self.boot_id,
                    ts=self.wall_clock(),
                    error=error,
                    consecutive_failures=self.reader.consecutive_failures,
                )
            )
            self._maybe_power_cycle(now)

    def _maybe_power_cycle(self, now: float) -> None:
        """Cut a hung sensor's power after `power_cycle_after` failed slots in a row, once per
        cool-down. Blocks for the cycle (a few seconds); a stop ends it early, power on."""
        power = self.indicators.power if self.indicators is not None else None
        failures = self.reader.consecutive_failures
        if power is None or not self.power_policy.due(failures, now):
            return
        log.warning(
            "sensor failed %d reading(s) in a row: power-cycling it through GPIO%s",
            failures,
            self.firmware.power_pin,
        )
        self.power_policy.record_cycle(now)
        self._last_power_cycle = self.wall_clock()
        self._show()  # the light says "sensor fault" while it is off
        if power.cycle(self.stop.wait):
            log.info(
                "sensor powered again; next power cycle in %g s at the earliest",
                self.power_policy.cooldown_s,
            )
        self._health_at = time.monotonic()  # the hub hears of the cycle at once

    def _take_and_publish(self, reading: SensorReading) -> None:
        """Keep the reading (seq and row in one commit), then publish it: live first."""
        room, ts = self.firmware.room, self.wall_clock()
        connected = self.publisher.is_connected
        message: ReadingMessage | None = None
        if self.outbox is not None:
            try:
                message = self.outbox.take(
                    room,
                    self.boot_id,
                    self.next_seq,
                    ts,
                    reading.temperature_c,
                    reading.humidity_pct,
                    sent_at=time.time() if connected else None,
                )
            except OutboxError as exc:
                self._outbox_failed(exc)
            else:
                self._outbox_works()
        if message is None:
            # No outbox: the reading goes out as it is, with the seq the boot was due.
            message = ReadingMessage(
                room,
                self.boot_id,
                self.next_seq,
                ts,
                reading.temperature_c,
                reading.humidity_pct,
                live=connected,
            )
        self.next_seq = message.seq + 1
        accepted = self.publisher.publish_reading(message)
        if accepted and connected:
            self.contact.sent(time.monotonic())
        if accepted and not connected and self.outbox is not None:
            # In paho's memory queue: it goes out first thing on reconnection. Its resend
            # clock starts then (below), so the drain does not send it twice.
            self._handed.append((message.boot_id, message.seq))

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.outbox is None and now >= self._retry_at:
            self._open_outbox()
        if self.publisher.connections != self._connections:
            self._connections = self.publisher.connections
            self._connected_at = now
            self._receipts_at_connect = self.receipts.count
            self._quiet_until = now
            self._health_at = now  # say where we stand on every (re)connection
            self.contact.connected(now)
            self._resend_all_events = True
            if self._handed and self.outbox is not None:
                try:
                    self.outbox.mark_sent(self._handed, time.time())
                except OutboxError as exc:
                    self._outbox_failed(exc)
            self._handed.clear()
        count = self.receipts.count
        if count != self._receipts_seen:
            self._receipts_seen = count
            self._last_receipt_at = now
            self._credits = self.window
        elif now - self._last_receipt_at >= PROBE_EVERY_S:
            self._last_receipt_at = now
            self._credits = max(self._credits, math.ceil(self.firmware.drain_per_s))
        marks = self.receipts.changed()
        if marks and self.outbox is not None:
            self.outbox.confirm(marks)  # the readings leave with the next write
        heard = self.publisher.hub_heard
        if heard != self._hub_heard:
            self._hub_heard = heard
            self.contact.answered(now)
        connected = self.publisher.is_connected
        self._take_events(connected)
        if connected and (self._resend_all_events or now >= self._events_at):
            self._events_at = now + EVENT_CHECK_S
            self._resend_events()
        if now >= self._next_drain:
            self._next_drain = now + DRAIN_TICK_S
            if connected:
                self._drain(now)
        if connected and now >= self._health_at:
            self._health_at = now + self.firmware.health_every_s
            self._publish_health()
        self._show()

    # --- the LEDs and the buzzer --------------------------------------------------

    def _signals(self) -> RoomSignals:
        now = time.monotonic()
        return room_signals(
            sensor_fault=self.reader.consecutive_failures > 0 or self.health.stuck,
            hub_reachable=self.contact.reachable(self.publisher.is_connected, now),
            hub_cold=hub_says_cold(self._hub_alert),
            local_cold=self.judge.cold,
        )

    def _show(self) -> None:
        signals = self._signals()
        if signals.hub_reachable != self._reachable:
            # A lost broker is logged by the publisher; a silent hub behind a live one here.
            if not signals.hub_reachable and self.publisher.is_connected:
                self._hub_silent = True
                log.warning(
                    "the hub has not answered for %.0f s; the Pi judges the room itself",
                    self.contact.waiting_s(time.monotonic()),
                )
            elif signals.hub_reachable and self._hub_silent:
                self._hub_silent = False
                log.info("the hub answers again")
            self._reachable = signals.hub_reachable
        if signals.warn != self._warned:
            self._warned = signals.warn
            if signals.warn and self.indicators is not None and self.indicators.warning is not None:
                median = self.judge.median_c
                log.warning(
                    "the room is cold (%s, below %g °C) and the hub cannot be reached: "
                    "the buzzer warns every %g s",
                    "unknown" if median is None else f"{median:.1f} °C",
                    self.judge.threshold_c,
                    self.firmware.buzzer_every_s,
                )
        if self.indicators is not None:
            self.indicators.signal(signals)

    # --- the episode button -------------------------------------------------------

    def _on_press(self, event: ButtonEvent) -> None:
        """On gpiozero's thread: confirm the press on the LED at once, queue it for the
        loop (which keeps it in the outbox). Nothing about it is logged: the episode log
        is health data."""
        self._presses.put(event)
        indicators = self.indicators
        if indicators is not None:
            indicators.confirm(event.action)

    def _on_event_stored(self, receipt: EpisodeStoredMessage) -> None:
        self._events_stored.put(receipt.event_id)  # on paho's thread

    def _on_alert(self, alert: AlertStateMessage | None) -> None:
        self._hub_alert = alert  # on paho's thread; one reference, replaced whole

    def _take_events(self, connected: bool) -> None:
        """Keep new presses (outbox first, then publish), forget what the hub stored."""
        while True:
            try:
                event_id = self._events_stored.get_nowait()
            except queue.Empty:
                break
            self._loose_events.pop(event_id, None)
            if self.outbox is not None:
                try:
                    self.outbox.event_stored(event_id)
                except OutboxError as exc:
                    self._outbox_failed(exc)
        while True:
            try:
                press = self._presses.get_nowait()
            except queue.Empty:
                break
            message = EpisodeEventMessage(
                room=self.firmware.room, event_id=press.event_id, action=press.action, ts=press.ts
            )
            sent_at = time.time() if connected else None
            self._keep_event(message, sent_at)
            if connected and self.publisher.publish_episode(message):
                self.contact.sent(time.monotonic())

    def _keep_event(self, message: EpisodeEventMessage, sent_at: float | None) -> None:
        if self.outbox is not None:
            try:
                self.outbox.add_event(message, sent_at=sent_at)
            except OutboxError as exc:
                self._outbox_failed(exc)
            else:
                self._outbox_works()
                return
        # Until the outbox works again, in memory: still re-sent, lost only with the process.
        self._loose_events[message.event_id] = (message, sent_at)

    def _resend_events(self) -> None:
        """Send what the hub has not confirmed: every held event after a (re)connection,
        else those sent more than EVENT_RESEND_S ago."""
        every = 0.0 if self._resend_all_events else EVENT_RESEND_S
        self._resend_all_events = False
        now = time.time()
        self._adopt_loose_events()
        due = [
            message
            for message, sent_at in self._loose_events.values()
            if sent_at is None or not 0 <= now - sent_at < every
        ]
        if self.outbox is not None:
            try:
                due += self.outbox.due_events(now, every)
            except OutboxError as exc:
                self._outbox_failed(exc)
        sent = [message for message in due if self.publisher.publish_episode(message)]
        if not sent:
            return
        self.contact.sent(time.monotonic())
        for message in sent:
            if message.event_id in self._loose_events:
                self._loose_events[message.event_id] = (message, now)
        if self.outbox is not None:
            try:
                self.outbox.mark_events_sent([m.event_id for m in sent], now)
            except OutboxError as exc:
                self._outbox_failed(exc)

    def _adopt_loose_events(self) -> None:
        """Events kept in memory while the outbox failed go into it once it works."""
        for event_id, (message, sent_at) in list(self._loose_events.items()):
            if self.outbox is None:
                return
            try:
                self.outbox.add_event(message, sent_at=sent_at)
            except OutboxError as exc:
                self._outbox_failed(exc)
                return
            del self._loose_events[event_id]

    def _drain(self, now: float) -> None:
        """Re-send due readings, oldest first, within the rate and the window."""
        rate = self.firmware.drain_per_s
        burst = max(1.0, rate * DRAIN_TICK_S * 2)
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        outbox = self.outbox
        if outbox is None or outbox.pending == 0:
            return
        settled = (
            self.receipts.count > self._receipts_at_connect or now >= self._connected_at + SETTLE_S
        )
        budget = min(int(self._tokens), self._credits, MAX_QUEUED_MESSAGES // 2)
        if not settled or budget <= 0 or now < self._quiet_until:
            return
        try:
            due = outbox.due(time.time(), self.grace_s, budget)
            sent = [held for held in due if self.publisher.publish_reading(held.message())]
            outbox.mark_sent([(held.boot_id, held.seq) for held in sent], time.time())
        except OutboxError as exc:
            self._outbox_failed(exc)
            return
        self._tokens -= len(due)
        self._credits -= len(sent)
        if len(due) < budget:
            # Nothing else is due now, and nothing becomes due sooner than this (readings
            # taken offline wait for a reconnection): spare a large outbox the scan.
            self._quiet_until = now + min(QUIET_RECHECK_S, self.grace_s / 2)
        if sent:
            self.contact.sent(time.monotonic())
            log.debug("re-sent %d reading(s), %d held", len(sent), outbox.pending)

    def _publish_health(self) -> None:
        floor: dict[str, int] = {}
        if self.outbox is not None:
            try:
                self.outbox.prune()  # so the counts are what the outbox really holds
                floor = self.outbox.floor()
            except OutboxError as exc:
                self._outbox_failed(exc)
        if self.outbox is not None:
            self._pending, self._dropped = self.outbox.pending, self.outbox.dropped
        sensor = self.health.summary(time.monotonic())
        power_fitted = self.indicators is not None and self.indicators.power is not None
        self.publisher.publish_health(
            HealthMessage(
                room=self.firmware.room,
                boot_id=self.boot_id,
                ts=self.wall_clock(),
                outbox_pending=self._pending,
                outbox_dropped=self._dropped,
                outbox_error=self.outbox_error,
                reads=self.reader.reads,
                read_errors=self.reader.errors,
                floor=floor,
                sensor_window_s=sensor.window_s,
                error_ratio=_ratio(sensor.error_ratio),
                attempt_error_ratio=_ratio(sensor.attempt_error_ratio),
                errors_by_kind={
                    "checksum": sensor.checksum_errors,
                    "timeout": sensor.timeout_errors,
                    "not_found": sensor.not_found_errors,
                    "implausible": sensor.implausible_errors,
                    "other": sensor.other_errors,
                },
                stuck=sensor.stuck,
                unchanged_s=None if sensor.unchanged_s is None else round(sensor.unchanged_s, 1),
                power_cycles=self.power_policy.cycles if power_fitted else None,
                last_power_cycle=self._last_power_cycle,
                sensor=self.firmware.sensor,
            )
        )

    def _flush(self) -> None:
        """On a clean stop, give the hub a moment to confirm what is in flight, so a
        restart leaves nothing behind. Only when a hub has answered during this run."""
        if self.outbox is None or self.receipts.count == 0:
            return
        deadline = time.monotonic() + FLUSH_S
        while self.publisher.is_connected:
            self._housekeeping()
            outbox = self.outbox
            if outbox is None:
                return
            try:
                outbox.prune()
            except OutboxError as exc:
                self._outbox_failed(exc)
                return
            if not outbox.pending:
                return
            if time.monotonic() >= deadline:
                log.info("stopping with %d reading(s) unconfirmed", outbox.pending)
                return
            time.sleep(0.02)

    # --- the outbox's health --------------------------------------------------------

    def _rooms(self) -> set[str]:
        if self.outbox is None:
            return set()
        try:
            return self.outbox.rooms()
        except OutboxError as exc:
            self._outbox_failed(exc)
            return set()

    def _open_outbox(self) -> None:
        try:
            outbox = open_outbox(self.firmware.outbox, self.cap)
        except OutboxError as exc:
            self._outbox_failed(exc)
            return
        if outbox.quarantined is not None:
            log.error("outbox %s was corrupt; moved it to %s", outbox.path, outbox.quarantined)
        self.outbox = outbox
        self._pending, self._dropped = outbox.pending, outbox.dropped
        outbox.confirm(self.receipts.all())  # on a reopen, what the hub confirmed meanwhile
        if self.outbox_error is None and outbox.pending:
            log.info("outbox %s holds %d reading(s) to send", outbox.path, outbox.pending)

    def _outbox_failed(self, exc: OutboxError) -> None:
        """Log once, say it in the health message, keep going without the outbox."""
        text = str(exc)
        if text != self._logged_error:
            self._logged_error = text
            log.error(
                "%s; publishing live readings without it, retrying every %g s", text, self.retry_s
            )
        else:
            log.debug("outbox still failing: %s", text)
        if self.outbox_error != text:
            self.outbox_error = text
            self._health_at = time.monotonic()
        if self.outbox is not None:
            self._pending, self._dropped = self.outbox.pending, self.outbox.dropped
            self.outbox.close()
            self.outbox = None
        self._retry_at = time.monotonic() + self.retry_s

    def _outbox_works(self) -> None:
        """A write succeeded: only now is a failing outbox healed (opening proves little)."""
        if self.outbox_error is not None:
            log.info("outbox %s works again", self.firmware.outbox)
            self.outbox_error = None
            self._logged_error = None
            self._health_at = time.monotonic()

    def close(self) -> None:
        try:
            if self.indicators is not None:
                self.indicators.close()  # the button first: no press lost half-way
            self._take_events(connected=False)  # presses still queued go to the outbox
        finally:
            try:
                self.publisher.close()
            finally:
                if self.outbox is not None:
                    self.outbox.close()
