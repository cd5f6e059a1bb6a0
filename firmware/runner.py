"""The firmware's main loop: a small loop over named parts (firmware/parts/), one boot's
worth; docs/firmware.md names the parts and the order the loop calls them in."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from contract.messages import new_boot_id
from firmware.config import FirmwareConfig
from firmware.hub_contact import HubContact
from firmware.outbox import OutboxError, cap_readings
from firmware.parts.button_relay import ButtonRelay
from firmware.parts.display import Display
from firmware.parts.drain import Drain
from firmware.parts.fitted import open_indicators
from firmware.parts.health import HealthReport
from firmware.parts.inbox import Inbox
from firmware.parts.keeper import OutboxKeeper, outbox_retry_s
from firmware.parts.link import HubLink
from firmware.parts.power import PowerCycler, cycle_policy, let_sensor_wake
from firmware.parts.readings import LiveReadings
from firmware.parts.sampling import Sampler
from firmware.parts.schedule import Schedule, next_slot
from firmware.publisher import Publisher
from firmware.sensors import Sensor, open_sensor
from mqttlink.systemd import LoopWatchdog

__all__ = ["next_slot", "open_indicators", "run", "utc_now"]

log = logging.getLogger("nursery.firmware")

# On a clean stop, how long to wait for the hub to confirm the readings still in flight.
FLUSH_S: Final = 3.0


def utc_now() -> datetime:
    return datetime.now(UTC)


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


class _Firmware:
    """One firmware boot: its parts, wired together, and the loop that turns them.

    One thread does all the work (the outbox is not shared); paho's thread only hands
    over what the hub says, and gpiozero's the button's presses, through the inbox.
    """

    def __init__(
        self,
        settings: FirmwareConfig,
        sensor: Sensor,
        boot_id: str,
        stop: threading.Event,
        pin_factory: Any = None,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        firmware = settings.firmware
        self.stop = stop
        self.boot_id = boot_id
        self.wall_clock = wall_clock
        self.interval_s = firmware.interval_s
        # The parts that hold no device or connection first: a bad value fails here.
        self.sampler = Sampler(firmware, settings.rules, sensor, stop)
        power_policy = cycle_policy(firmware)
        # From started_at: a grace for the first connection.
        contact = HubContact(firmware.hub_lost_after_s, started_at=time.monotonic())
        self.inbox = inbox = Inbox()
        self.indicators = open_indicators(firmware, inbox.on_press, pin_factory)
        inbox.indicators = self.indicators
        let_sensor_wake(self.indicators, stop)
        self.keeper = keeper = OutboxKeeper(
            firmware.outbox,
            cap_readings(firmware.outbox_cap_days, self.interval_s),
            outbox_retry_s(self.interval_s),
            inbox.receipts,
        )
        keeper.open()
        try:
            self.publisher = publisher = Publisher(
                settings,
                boot_id,
                receipt_rooms=keeper.rooms(),
                on_receipt=inbox.receipts.add,
                on_episode_stored=inbox.on_event_stored,
                on_alert=inbox.on_alert,
            )
        except BaseException:
            keeper.close()
            if self.indicators is not None:
                self.indicators.close()
            raise
        now = time.monotonic()
        self.link = HubLink(contact, publisher)
        room = firmware.room
        self.readings = LiveReadings(room, boot_id, keeper, publisher, contact, wall_clock)
        self.drain = Drain(
            self.interval_s, firmware.drain_per_s, keeper, inbox.receipts, publisher, contact, now
        )
        self.relay = ButtonRelay(room, inbox, keeper, publisher, contact)
        self.display = Display(
            self.indicators, firmware.buzzer_every_s, self.sampler, self.link, publisher, inbox
        )
        self.power = PowerCycler(
            firmware, power_policy, self.indicators, stop, wall_clock, self.display.show
        )
        self.health = HealthReport(
            firmware, boot_id, keeper, self.sampler, self.power, publisher, wall_clock, now
        )
        keeper.on_change = self.health.due_now  # the hub hears of outbox trouble at once

    def loop(self) -> None:
        schedule = Schedule(self.interval_s, time.monotonic())
        self.display.show()
        # Fed by each turn that ends (READY=1 after the first): a hung read stops the pings.
        watchdog = LoopWatchdog()
        while not self.stop.is_set():
            if schedule.due(time.monotonic()):
                self._reading_slot()
                schedule.advance(time.monotonic())
            self._housekeeping()
            watchdog.turned()
            # Receipts, re-sends, health and outbox retries run at most DRAIN_TICK_S late.
            wake = min(schedule.slot, self.drain.next_tick)
            self.stop.wait(max(0.0, wake - time.monotonic()))
        watchdog.stopping()
        self._flush()

    def _reading_slot(self) -> None:
        slot = self.sampler.sample()
        if slot is None:
            return  # stopped during the read
        if slot.reading is not None:
            self.readings.publish(slot.reading)
            return
        self.publisher.publish_fault(self.sampler.fault(slot, self.boot_id, self.wall_clock()))
        if self.power.after_failure(self.sampler.reader.consecutive_failures, slot.at):
            self.health.due_now()  # the hub hears of the cycle at once

    def _housekeeping(self) -> None:
        """One turn of every part but the sensor's, in the order their news flows."""
        now = time.monotonic()
        self.keeper.retry(now)
        if self.link.reconnected(now):
            self.drain.connected(now)
            self.health.connected(now)
            self.relay.connected()
            self.readings.connected()
        self.drain.take_receipts(now)
        self.link.heard(now)
        connected = self.publisher.is_connected
        self.relay.tick(now, connected)
        self.drain.tick(now, connected)
        self.health.tick(now, connected)
        self.display.show()

    def _flush(self) -> None:
        """On a clean stop, give the hub a moment to confirm what is in flight, so a
        restart leaves nothing behind. Only when a hub has answered during this run."""
        if self.keeper.outbox is None or self.inbox.receipts.count == 0:
            return
        deadline = time.monotonic() + FLUSH_S
        while self.publisher.is_connected:
            self._housekeeping()
            outbox = self.keeper.outbox
            if outbox is None:
                return
            try:
                outbox.prune()
            except OutboxError as exc:
                self.keeper.failed(exc)
                return
            if not outbox.pending:
                return
            if time.monotonic() >= deadline:
                log.info("stopping with %d reading(s) unconfirmed", outbox.pending)
                return
            time.sleep(0.02)

    def close(self) -> None:
        try:
            if self.indicators is not None:
                self.indicators.close()  # the button first: no press lost half-way
            self.relay.close()  # presses still queued go to the outbox
        finally:
            try:
                self.publisher.close()
            finally:
                self.keeper.close()
