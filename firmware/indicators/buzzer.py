"""The buzzer: chirps while the room is cold and the hub cannot be reached, rate-limited."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from gpiozero import Buzzer


@dataclass(frozen=True, slots=True)
class Chirp:
    on_s: float = 0.1
    off_s: float = 0.1
    count: int = 3

    def __post_init__(self) -> None:
        if not (self.on_s > 0 and self.off_s > 0 and self.count >= 1):
            raise ValueError("a chirp needs positive times and at least one beep")


DEFAULT_CHIRP: Final = Chirp()
DEFAULT_WARN_INTERVAL_S: Final = 300.0


class LocalWarning:
    """The buzzer chirps when the room is cold and the hub cannot be reached, so a network
    fault never silences a cold room; at most once per `min_interval_s`, silent otherwise.
    """

    def __init__(
        self,
        buzzer: Buzzer,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = DEFAULT_WARN_INTERVAL_S,
        chirp: Chirp = DEFAULT_CHIRP,
    ) -> None:
        if not min_interval_s >= 0:
            raise ValueError("min_interval_s must not be negative")
        self._buzzer = buzzer
        self._clock = clock
        self.min_interval_s = min_interval_s
        self.chirp = chirp
        self.chirps = 0
        self._last_chirp: float | None = None
        self._sounding = False

    def update(self, room_cold: bool, hub_reachable: bool) -> bool:
        """Chirp now if due; True when it did."""
        if not room_cold or hub_reachable:
            if self._sounding:
                self._buzzer.off()
                self._sounding = False
            return False
        now = self._clock()
        if self._last_chirp is not None and now - self._last_chirp < self.min_interval_s:
            return False
        self._last_chirp = now
        self.chirps += 1
        self._sounding = True
        self._buzzer.beep(
            on_time=self.chirp.on_s, off_time=self.chirp.off_s, n=self.chirp.count, background=True
        )
        return True

    def close(self) -> None:
        if not self._buzzer.closed:
            try:
                self._buzzer.off()
            finally:
                self._buzzer.close()
