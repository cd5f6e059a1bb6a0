"""The Pi's own verdict on a cold room, for when the hub (which normally decides) is away."""

from __future__ import annotations

import statistics
from collections import deque
from typing import Final

from mqttlink.rules_settings import COLD_CLEAR_MARGIN_C

DEFAULT_COLD_C: Final = 16.0
DEFAULT_COLD_HOLD_S: Final = 300.0


class LocalColdJudge:
    """Is the room cold, judged on the Pi from its own readings (for when the hub, which
    normally decides, cannot be reached)?

    The median of the last `samples` readings must stay below `threshold_c` for `hold_s`
    to turn cold, and at or above `clear_c` (default threshold + 0.5 °C) for `hold_s` to
    turn back. No reading, no change: a failing sensor leaves the last verdict standing.
    """

    def __init__(
        self,
        threshold_c: float = DEFAULT_COLD_C,
        hold_s: float = DEFAULT_COLD_HOLD_S,
        clear_c: float | None = None,
        samples: int = 3,
    ) -> None:
        clear = threshold_c + COLD_CLEAR_MARGIN_C if clear_c is None else clear_c
        if clear < threshold_c:
            raise ValueError("clear_c must not be below threshold_c")
        if not hold_s >= 0:
            raise ValueError("hold_s must not be negative")
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.threshold_c = threshold_c
        self.clear_c = clear
        self.hold_s = hold_s
        self._recent: deque[float] = deque(maxlen=samples)
        self._cold = False
        self._turning_since: float | None = None

    @property
    def cold(self) -> bool:
        return self._cold

    @property
    def median_c(self) -> float | None:
        return statistics.median(self._recent) if self._recent else None

    def update(self, temperature_c: float, now: float) -> bool:
        """Take one reading (monotonic `now`) and return the verdict."""
        self._recent.append(temperature_c)
        median = statistics.median(self._recent)
        turning = median >= self.clear_c if self._cold else median < self.threshold_c
        if not turning:
            self._turning_since = None
        else:
            if self._turning_since is None:
                self._turning_since = now
            if now - self._turning_since >= self.hold_s:
                self._cold = not self._cold
                self._turning_since = None
        return self._cold
