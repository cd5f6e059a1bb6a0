"""One reading slot: read with retries, record the sensor's health, judge the room on the Pi."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from contract.messages import FaultMessage
from firmware.config import FirmwareSettings
from firmware.indicators import LocalColdJudge
from firmware.sensor_health import DEFAULT_WINDOW_S, ObservedSensor, SensorHealth
from firmware.sensors import Sensor, SensorReader, SensorReading
from mqttlink.rules_settings import RulesSettings

log = logging.getLogger("nursery.firmware")


@dataclass(frozen=True, slots=True)
class Slot:
    """How a reading slot ended: `at` (monotonic), and the reading, or None and the last
    error when every attempt failed."""

    at: float
    reading: SensorReading | None
    error: str = ""


def cold_judge(firmware: FirmwareSettings, rules: RulesSettings) -> LocalColdJudge:
    """The Pi's own cold judge: the hub's cold rule, or `firmware.local_cold_below_c`."""
    local_cold = firmware.local_cold_below_c
    return LocalColdJudge(
        threshold_c=rules.effective("cold_below_c") if local_cold is None else local_cold,
        hold_s=rules.cold_for_s,
        clear_c=rules.effective("cold_clear_c") if local_cold is None else None,
    )


class Sampler:
    """Reads the sensor when the schedule says; a slot that fails after every retry is
    logged, and `fault` is what the hub hears of it. Keeps the sensor's `health` (the
    hub's measure, failed slots, and every attempt's) and the Pi's own cold `judge`."""

    def __init__(
        self,
        firmware: FirmwareSettings,
        rules: RulesSettings,
        sensor: Sensor,
        stop: threading.Event,
    ) -> None:
        self.firmware = firmware
        self._stop = stop
        self.health = SensorHealth(window_s=DEFAULT_WINDOW_S, stuck_after_s=rules.stuck_for_s)
        observed = ObservedSensor(sensor, self.health, time.monotonic)
        self.reader = SensorReader(observed, firmware.read_retries, sensor.min_read_spacing_s, stop)
        self.judge = cold_judge(firmware, rules)

    @property
    def faulty(self) -> bool:
        """The last slot failed, or the sensor repeats itself: what the status LED shows."""
        return self.reader.consecutive_failures > 0 or self.health.stuck

    def sample(self) -> Slot | None:
        """Serve one slot; None when `stop` was set during the read (no outcome to count)."""
        missed = self.reader.consecutive_failures
        reading = self.reader.read()
        if reading is None and self._stop.is_set():
            return None
        now = time.monotonic()
        self.health.record_slot(now, reading)
        if reading is not None:
            if missed:
                log.info("sensor recovered after %d missed reading(s)", missed)
            self.judge.update(reading.temperature_c, now)
            return Slot(now, reading)
        error = self.reader.last_error or "unknown error"
        log.warning(
            "sensor read failed after %d attempt(s): %s (%d reading(s) missed in a row)",
            self.firmware.read_retries + 1,
            error,
            self.reader.consecutive_failures,
        )
        return Slot(now, None, error)

    def fault(self, slot: Slot, boot_id: str, ts: datetime) -> FaultMessage:
        """The fault message for a slot that failed."""
        return FaultMessage(
            room=self.firmware.room,
            boot_id=boot_id,
            ts=ts,
            error=slot.error,
            consecutive_failures=self.reader.consecutive_failures,
        )
