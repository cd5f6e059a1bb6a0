"""The status LED (steady, slow or fast blink; a button press's flashes) and the cold LED."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, get_args

if TYPE_CHECKING:
    from gpiozero import LED

LightState = Literal["off", "ok", "unreachable", "sensor_fault"]
LIGHT_STATES: Final[tuple[LightState, ...]] = get_args(LightState)


@dataclass(frozen=True, slots=True)
class Blink:
    on_s: float
    off_s: float

    def __post_init__(self) -> None:
        if not (self.on_s > 0 and self.off_s > 0):
            raise ValueError("blink times must be positive")


SLOW_BLINK: Final = Blink(1.0, 1.0)
FAST_BLINK: Final = Blink(0.15, 0.15)


def status_for(*, sensor_fault: bool, hub_reachable: bool) -> LightState:
    """The status light's state: a sensor fault wins over an unreachable hub."""
    if sensor_fault:
        return "sensor_fault"
    if not hub_reachable:
        return "unreachable"
    return "ok"


# A press is confirmed on the status LED: dark, then the action's flashes, then dark,
# then back to what the light was showing. (state, seconds) steps.
Flashes = tuple[tuple[bool, float], ...]
_GAP_S: Final = 0.4
_SHORT_S: Final = 0.2
CONFIRM_FLASHES: Final[dict[str, Flashes]] = {
    # two short flashes: an episode started
    "start": ((False, _GAP_S), (True, _SHORT_S), (False, _SHORT_S), (True, _SHORT_S)),
    # one long flash: it stopped
    "stop": ((False, _GAP_S), (True, 1.0)),
    # three short flashes: "episode now" logged
    "now": (
        (False, _GAP_S),
        (True, _SHORT_S),
        (False, _SHORT_S),
        (True, _SHORT_S),
        (False, _SHORT_S),
        (True, _SHORT_S),
    ),
}


def confirm_flashes(action: str) -> Flashes:
    """The whole confirmation for `action`, the closing dark gap included."""
    return (*CONFIRM_FLASHES[action], (False, _GAP_S))


class StatusLight:
    """One LED: steady while the monitor reads and reaches the hub (the monitor works, which
    says nothing about the room), slow blink while the hub or broker is unreachable, fast
    blink on a sensor fault. An optional second LED is lit while the room is cold.

    `show` only touches the LED when the state changes, so the runner may call it on
    every turn of its loop without restarting the blink. `confirm` plays a button press's
    flashes (from gpiozero's thread) and then shows the state again; the methods are
    thread-safe.
    """

    def __init__(
        self,
        led: LED,
        cold_led: LED | None = None,
        slow: Blink = SLOW_BLINK,
        fast: Blink = FAST_BLINK,
    ) -> None:
        self._led = led
        self._cold_led = cold_led
        self._slow = slow
        self._fast = fast
        self._state: LightState | None = None
        self._cold: bool | None = None
        self._lock = threading.RLock()
        self._confirming = 0  # the running confirmation's number; 0 when none runs
        self._cancel = threading.Event()
        self._closed = False

    @property
    def state(self) -> LightState | None:
        """The last state shown (None before the first `show`)."""
        return self._state

    def show(self, state: LightState) -> None:
        if state not in LIGHT_STATES:
            raise ValueError(f"state must be one of {', '.join(LIGHT_STATES)}, got {state!r}")
        with self._lock:
            if state == self._state or self._closed:
                return
            self._state = state
            if not self._confirming:  # else shown when the confirmation ends
                self._apply(state)

    def confirm(self, action: str) -> None:
        """Flash the confirmation of a button press (`start`, `stop`, `now`) in the
        background, then show the current state again; a newer press replaces it."""
        steps = confirm_flashes(action)
        with self._lock:
            if self._closed:
                return
            self._confirming += 1
            number = self._confirming
            self._cancel.set()  # ends a confirmation under way
            self._cancel = cancel = threading.Event()
        threading.Thread(
            target=self._play, args=(number, steps, cancel), name="status-led", daemon=True
        ).start()

    def _play(self, number: int, steps: Flashes, cancel: threading.Event) -> None:
        for lit, seconds in steps:
            with self._lock:
                if cancel.is_set() or self._closed:
                    return
                self._led.value = lit  # also stops a blink under way
            if cancel.wait(seconds):
                return
        with self._lock:
            if self._confirming == number and not self._closed:
                self._confirming = 0
                if self._state is not None:
                    self._apply(self._state)

    def _apply(self, state: LightState) -> None:
        if state == "ok":
            self._led.on()
        elif state == "unreachable":
            self._led.blink(on_time=self._slow.on_s, off_time=self._slow.off_s, background=True)
        elif state == "sensor_fault":
            self._led.blink(on_time=self._fast.on_s, off_time=self._fast.off_s, background=True)
        else:
            self._led.off()

    def update(self, *, sensor_fault: bool, hub_reachable: bool) -> None:
        self.show(status_for(sensor_fault=sensor_fault, hub_reachable=hub_reachable))

    def show_cold(self, cold: bool) -> None:
        """Light the cold LED (when one is fitted) while the room is cold."""
        with self._lock:
            if self._cold_led is None or cold == self._cold or self._closed:
                return
            self._cold = cold
            if cold:
                self._cold_led.on()
            else:
                self._cold_led.off()

    def close(self) -> None:
        """Turn the LEDs off and release their pins; safe to call twice."""
        with self._lock:
            self._closed = True
            self._cancel.set()
        for led in (self._led, self._cold_led):
            if led is None or led.closed:
                continue
            try:
                led.off()  # a released pin may keep its level (it does on MockFactory)
            finally:
                led.close()
