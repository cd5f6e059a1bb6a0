"""The switch that powers the sensor, so a hung one can be power-cycled."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from gpiozero import OutputDevice

POWER_OFF_S: Final = 2.0
POWER_SETTLE_S: Final = 2.0


class PowerSwitch:
    """The GPIO that powers the DHT (directly or through a transistor): `cycle` cuts it,
    waits, restores it and waits for the sensor to wake up."""

    def __init__(
        self, device: OutputDevice, off_s: float = POWER_OFF_S, settle_s: float = POWER_SETTLE_S
    ) -> None:
        if not (off_s >= 0 and settle_s >= 0):
            raise ValueError("off_s and settle_s must not be negative")
        self._device = device
        self.off_s = off_s
        self.settle_s = settle_s

    def cycle(self, wait: Callable[[float], bool]) -> bool:
        """Off, `wait(off_s)`, on, `wait(settle_s)`. `wait` returns True to stop early (like
        `threading.Event.wait`); power comes back on whatever happens. True when complete."""
        self._device.off()
        try:
            stopped = wait(self.off_s)
        finally:
            self._device.on()
        return not stopped and not wait(self.settle_s)

    def close(self) -> None:
        """Release the pin; the sensor loses power until the next start."""
        self._device.close()
