"""The firmware's main loop: read the sensor on a fixed schedule and publish what it says.

The CLI builds the settings, installs the signal handlers that set `stop` and calls
`run`; everything here waits on `stop`, so a SIGTERM ends the loop within one wait.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime

from firmware.contract import FaultMessage, ReadingMessage, new_boot_id
from firmware.publisher import Publisher
from firmware.sensors import Sensor, SensorReader, open_sensor
from nursery.config import Settings

log = logging.getLogger("nursery.firmware")


def next_slot(previous_slot: float, interval_s: float, now: float) -> float:
    """The first slot of the grid `previous_slot + k * interval_s` (k ≥ 1) not before now.

    Slots sit on a fixed grid (no drift from the time a read or publish takes); slots
    missed because a read with retries overran are skipped rather than bunched up.
    """
    slot = previous_slot + interval_s
    if slot < now:
        slot += math.ceil((now - slot) / interval_s) * interval_s
    return slot


def run(settings: Settings, stop: threading.Event) -> None:
    """Read and publish until `stop` is set; SensorUnavailable propagates before connecting."""
    firmware = settings.firmware
    sensor = open_sensor(firmware)
    boot_id = new_boot_id()
    log.info(
        "firmware starting: room %s, sensor %s, broker %s:%d, every %g s (boot %s)",
        firmware.room,
        firmware.sensor if firmware.sensor != "simulated" else f"simulated ({firmware.scenario})",
        settings.mqtt.host,
        settings.mqtt.port,
        firmware.interval_s,
        boot_id,
    )
    try:
        publisher = Publisher(settings, boot_id)
    except BaseException:
        sensor.close()
        raise
    try:
        _loop(settings, sensor, publisher, boot_id, stop)
    finally:
        try:
            sensor.close()
        finally:
            publisher.close()
    log.info("firmware stopped")


def _loop(
    settings: Settings,
    sensor: Sensor,
    publisher: Publisher,
    boot_id: str,
    stop: threading.Event,
) -> None:
    firmware = settings.firmware
    reader = SensorReader(sensor, firmware.read_retries, sensor.min_read_spacing_s, stop)
    seq = 0
    slot = time.monotonic()
    while not stop.is_set():
        missed = reader.consecutive_failures
        reading = reader.read()
        if reading is not None:
            if missed:
                log.info("sensor recovered after %d missed reading(s)", missed)
            message = ReadingMessage(
                room=firmware.room,
                boot_id=boot_id,
                seq=seq,
                ts=datetime.now(UTC),
                temperature_c=reading.temperature_c,
                humidity_pct=reading.humidity_pct,
            )
            # A reading dropped by a full queue still uses its seq: the gap shows the loss.
            publisher.publish_reading(message)
            seq += 1
        elif not stop.is_set():
            error = reader.last_error or "unknown error"
            log.warning(
                "sensor read failed after %d attempt(s): %s (%d reading(s) missed in a row)",
                firmware.read_retries + 1,
                error,
                reader.consecutive_failures,
            )
            publisher.publish_fault(
                FaultMessage(
                    room=firmware.room,
                    boot_id=boot_id,
                    ts=datetime.now(UTC),
                    error=error,
                    consecutive_failures=reader.consecutive_failures,
                )
            )
        now = time.monotonic()
        following = next_slot(slot, firmware.interval_s, now)
        if following - slot > firmware.interval_s * 1.5:
            log.debug("reading took too long; skipped %g s of slots", following - slot)
        slot = following
        stop.wait(slot - now)
