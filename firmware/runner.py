"""The firmware's main loop: read the sensor on a fixed schedule, keep each reading in the
outbox, publish it, and re-send what the hub has not confirmed.

The CLI builds the settings, installs the signal handlers that set `stop` and calls
`run`; everything here waits on `stop`, so a SIGTERM ends the loop within one wait. One
thread does all the work (the outbox is not shared); paho's thread only hands over the
hub's receipts. docs/outbox.md describes the rules this loop follows.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import Final

from firmware.contract import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    StoredMessage,
    new_boot_id,
)
from firmware.outbox import Outbox, OutboxError, cap_readings, open_outbox
from firmware.publisher import MAX_QUEUED_MESSAGES, Publisher
from firmware.sensors import Sensor, SensorReader, SensorReading, open_sensor
from nursery.config import Settings

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


def run(settings: Settings, stop: threading.Event) -> None:
    """Read and publish until `stop` is set; SensorUnavailable propagates before connecting."""
    firmware = settings.firmware
    sensor = open_sensor(firmware)
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
        node = _Firmware(settings, sensor, boot_id, stop)
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
    """The state of one firmware boot: sensor reader, outbox, publisher, counters."""

    def __init__(
        self, settings: Settings, sensor: Sensor, boot_id: str, stop: threading.Event
    ) -> None:
        self.settings = settings
        self.firmware = settings.firmware
        self.boot_id = boot_id
        self.stop = stop
        interval = self.firmware.interval_s
        self.reader = SensorReader(
            sensor, self.firmware.read_retries, sensor.min_read_spacing_s, stop
        )
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
                settings, boot_id, receipt_rooms=self._rooms(), on_receipt=self.receipts.add
            )
        except BaseException:
            if self.outbox is not None:
                self.outbox.close()
            raise
        now = time.monotonic()
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
        while not self.stop.is_set():
            if time.monotonic() >= slot:
                self._reading_slot()
                now = time.monotonic()
                following = next_slot(slot, interval, now)
                if following - slot > interval * 1.5:
                    log.debug("reading took too long; skipped %g s of slots", following - slot)
                slot = following
            self._housekeeping()
            # Receipts, re-sends, health and outbox retries run at most DRAIN_TICK_S late.
            self.stop.wait(max(0.0, min(slot, self._next_drain) - time.monotonic()))
        self._flush()

    def _reading_slot(self) -> None:
        missed = self.reader.consecutive_failures
        reading = self.reader.read()
        if reading is not None:
            if missed:
                log.info("sensor recovered after %d missed reading(s)", missed)
            self._take_and_publish(reading)
        elif not self.stop.is_set():
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
                    ts=datetime.now(UTC),
                    error=error,
                    consecutive_failures=self.reader.consecutive_failures,
                )
            )

    def _take_and_publish(self, reading: SensorReading) -> None:
        """Keep the reading (seq and row in one commit), then publish it: live first."""
        room, ts = self.firmware.room, datetime.now(UTC)
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
                room, self.boot_id, self.next_seq, ts, reading.temperature_c, reading.humidity_pct
            )
        self.next_seq = message.seq + 1
        accepted = self.publisher.publish_reading(message)
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
        connected = self.publisher.is_connected
        if now >= self._next_drain:
            self._next_drain = now + DRAIN_TICK_S
            if connected:
                self._drain(now)
        if connected and now >= self._health_at:
            self._health_at = now + self.firmware.health_every_s
            self._publish_health()

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
        self.publisher.publish_health(
            HealthMessage(
                room=self.firmware.room,
                boot_id=self.boot_id,
                ts=datetime.now(UTC),
                outbox_pending=self._pending,
                outbox_dropped=self._dropped,
                outbox_error=self.outbox_error,
                reads=self.reader.reads,
                read_errors=self.reader.errors,
                floor=floor,
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
            self.publisher.close()
        finally:
            if self.outbox is not None:
                self.outbox.close()
