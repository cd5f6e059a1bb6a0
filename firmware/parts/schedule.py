"""When the next reading is due: slots on a fixed grid, on the monotonic clock."""

from __future__ import annotations

import logging
import math

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


class Schedule:
    """The reading slots: the first at `start`, then every `interval_s`."""

    def __init__(self, interval_s: float, start: float) -> None:
        self.interval_s = interval_s
        self.slot = start  # the next one, monotonic

    def due(self, now: float) -> bool:
        return now >= self.slot

    def advance(self, now: float) -> None:
        """The slot has been served (at `now`): move to the next one on the grid."""
        following = next_slot(self.slot, self.interval_s, now)
        if following - self.slot > self.interval_s * 1.5:
            log.debug("reading took too long; skipped %g s of slots", following - self.slot)
        self.slot = following
