"""Power cycling of a hung sensor, through the switch on `firmware.power_pin`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from firmware.config import FirmwareSettings
from firmware.indicators import POWER_SETTLE_S, Indicators
from firmware.sensor_health import PowerCyclePolicy

log = logging.getLogger("nursery.firmware")


def cycle_policy(firmware: FirmwareSettings) -> PowerCyclePolicy:
    return PowerCyclePolicy(firmware.power_cycle_after, firmware.power_cycle_cooldown_s)


def let_sensor_wake(indicators: Indicators | None, stop: threading.Event) -> None:
    """With a power switch fitted the sensor was unpowered until now: let it wake before
    the first read."""
    if indicators is not None and indicators.power is not None:
        stop.wait(POWER_SETTLE_S)


class PowerCycler:
    """Cuts a hung sensor's power after `power_cycle_after` failed slots in a row, once
    per cool-down. `show` puts the status light right before the cut."""

    def __init__(
        self,
        firmware: FirmwareSettings,
        policy: PowerCyclePolicy,
        indicators: Indicators | None,
        stop: threading.Event,
        wall_clock: Callable[[], datetime],
        show: Callable[[], None],
    ) -> None:
        self.policy = policy
        self.last_cycle: datetime | None = None
        self._pin = firmware.power_pin
        self._power = indicators.power if indicators is not None else None
        self._stop = stop
        self._wall_clock = wall_clock
        self._show = show

    @property
    def fitted(self) -> bool:
        return self._power is not None

    def after_failure(self, failures: int, now: float) -> bool:
        """A slot failed (`failures` in a row, at monotonic `now`): cycle the power if due;
        True when it did. Blocks for the cycle (a few seconds); a stop ends it early, power
        on."""
        power = self._power
        if power is None or not self.policy.due(failures, now):
            return False
        log.warning(
            "sensor failed %d reading(s) in a row: power-cycling it through GPIO%s",
            failures,
            self._pin,
        )
        self.policy.record_cycle(now)
        self.last_cycle = self._wall_clock()
        self._show()  # the light says "sensor fault" while it is off
        if power.cycle(self._stop.wait):
            log.info(
                "sensor powered again; next power cycle in %g s at the earliest",
                self.policy.cooldown_s,
            )
        return True
