"""The health message: the outbox, the sensor's error rates and power cycles, every so often."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from contract.messages import HealthMessage
from firmware.config import FirmwareSettings
from firmware.outbox import OutboxError
from firmware.parts.keeper import OutboxKeeper
from firmware.parts.power import PowerCycler
from firmware.parts.sampling import Sampler
from firmware.publisher import Publisher


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class HealthReport:
    """Publishes the health message every `health_every_s` while connected, and at once
    on every (re)connection (`connected`) and after news (`due_now`)."""

    def __init__(
        self,
        firmware: FirmwareSettings,
        boot_id: str,
        keeper: OutboxKeeper,
        sampler: Sampler,
        power: PowerCycler,
        publisher: Publisher,
        wall_clock: Callable[[], datetime],
        now: float,
    ) -> None:
        self.firmware = firmware
        self.boot_id = boot_id
        self._keeper = keeper
        self._sampler = sampler
        self._publisher = publisher
        self._wall_clock = wall_clock
        self._power = power
        self._at = now

    def due_now(self) -> None:
        self._at = time.monotonic()

    def connected(self, now: float) -> None:
        self._at = now  # say where we stand on every (re)connection

    def tick(self, now: float, connected: bool) -> None:
        if connected and now >= self._at:
            self._at = now + self.firmware.health_every_s
            self._publish()

    def _publish(self) -> None:
        floor: dict[str, int] = {}
        outbox = self._keeper.outbox
        if outbox is not None:
            try:
                outbox.prune()  # so the counts are what the outbox really holds
                floor = outbox.floor()
            except OutboxError as exc:
                self._keeper.failed(exc)
        pending, dropped = self._keeper.counts()
        reader = self._sampler.reader
        sensor = self._sampler.health.summary(time.monotonic())
        power = self._power
        self._publisher.publish_health(
            HealthMessage(
                room=self.firmware.room,
                boot_id=self.boot_id,
                ts=self._wall_clock(),
                outbox_pending=pending,
                outbox_dropped=dropped,
                outbox_error=self._keeper.error,
                reads=reader.reads,
                read_errors=reader.errors,
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
                power_cycles=power.policy.cycles if power.fitted else None,
                last_power_cycle=power.last_cycle,
                sensor=self.firmware.sensor,
            )
        )
