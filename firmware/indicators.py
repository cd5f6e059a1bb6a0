"""What the Pi shows and hears in the room: the status LED, the episode button, the local
cold warning on a buzzer, and the switch that power-cycles a hung sensor.

Every class receives its gpiozero device (tests pass devices on gpiozero's MockFactory);
`Indicators` builds them from pin numbers. gpiozero is imported only there, so this
module imports on any machine. `LocalColdJudge`, `status_for`, `room_signals` and
`hub_says_cold` are pure.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from contract.alert_state import AlertStateMessage
from contract.errors import NurseryError

if TYPE_CHECKING:
    from types import TracebackType

    from gpiozero import LED, Button, Buzzer, OutputDevice

log = logging.getLogger("nursery.firmware")


class IndicatorError(NurseryError, RuntimeError):
    """A pin could not be opened (wrong number, already in use, no GPIO on this machine).

    `setting` names the firmware setting of the pin that failed (`led_pin`…), so the runner
    can carry on without that part; `no_gpio` says no pin can be opened on this machine
    at all (gpiozero found no pin library), so trying the other parts is pointless.
    """

    def __init__(self, message: str, *, setting: str | None = None, no_gpio: bool = False):
        super().__init__(message)
        self.setting = setting
        self.no_gpio = no_gpio


# --- status LED ---------------------------------------------------------------------

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


def hub_says_cold(alert: AlertStateMessage | None) -> bool:
    """The hub's retained alert state has a cold incident open (answered or not: an
    acknowledged cold room is still cold)."""
    if alert is None:
        return False
    return alert.condition == "cold" or any(entry.condition == "cold" for entry in alert.open)


@dataclass(frozen=True, slots=True)
class RoomSignals:
    """What the Pi shows and sounds right now: the status light, the cold LED, and what
    the buzzer's warning needs (`LocalWarning` chirps, rate-limited, when `warn`)."""

    light: LightState
    cold_led: bool
    local_cold: bool
    hub_reachable: bool

    @property
    def warn(self) -> bool:
        return self.local_cold and not self.hub_reachable


def room_signals(
    *, sensor_fault: bool, hub_reachable: bool, hub_cold: bool, local_cold: bool
) -> RoomSignals:
    """The hub decides whether the room is cold while it can be reached; when it cannot
    (its last word may be hours old), the Pi's own judge does, and the buzzer warns."""
    return RoomSignals(
        light=status_for(sensor_fault=sensor_fault, hub_reachable=hub_reachable),
        cold_led=hub_cold if hub_reachable else local_cold,
        local_cold=local_cold,
        hub_reachable=hub_reachable,
    )


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


# --- episode button -----------------------------------------------------------------

EpisodeAction = Literal["start", "stop", "now"]
EPISODE_ACTIONS: Final[tuple[EpisodeAction, ...]] = get_args(EpisodeAction)

DEFAULT_HOLD_S: Final = 2.0
# gpiozero's bounce_time is honoured by lgpio and pigpio but ignored by the native and
# mock pin factories, so the button also ignores edges this soon after the last one.
DEFAULT_DEBOUNCE_S: Final = 0.05


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """One episode event from the button, named like the payload fields it becomes.

    `ts` and `monotonic` are both the time of the press (a long press's too, not of the
    moment it counted as held). `episode_id` ties a stop to its start: a start's and a
    now's is their own `event_id`, a stop's is its start's. `monotonic` stays on the Pi.
    """

    event_id: str
    action: EpisodeAction
    ts: datetime
    monotonic: float
    episode_id: str

    def __post_init__(self) -> None:
        if self.action not in EPISODE_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        if self.ts.tzinfo is None:
            raise ValueError("ts must carry a time zone")
        if self.action != "stop" and self.episode_id != self.event_id:
            raise ValueError("a start's or now's episode_id is its own event_id")


class EpisodeButton:
    """A short press starts a timed episode and the next short press stops it; a long press
    (the button's `hold_time`) is a one-tap "episode now" and is not also a short press.

    Events go to `on_event` from gpiozero's threads, one at a time and in order; it must
    not block (hand the event to a queue). A timed episode open when a long press comes
    stays open. The open episode is not kept across restarts.
    """

    def __init__(
        self,
        button: Button,
        on_event: Callable[[ButtonEvent], None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
    ) -> None:
        if not debounce_s >= 0:
            raise ValueError("debounce_s must not be negative")
        self._button = button
        self._on_event = on_event
        self._clock = clock
        self._wall_clock = wall_clock
        self._debounce_s = debounce_s
        self._lock = threading.Lock()
        self._down = False
        self._held = False
        self._press_mono = 0.0
        self._press_wall = datetime.min.replace(tzinfo=UTC)
        self._last_edge: float | None = None
        self._episode: ButtonEvent | None = None
        self._closed = False
        button.when_pressed = self._pressed
        button.when_released = self._released
        button.when_held = self._held_down

    @property
    def open_episode(self) -> ButtonEvent | None:
        """The start event of the timed episode under way, if any."""
        return self._episode

    def _pressed(self) -> None:
        now = self._clock()
        with self._lock:
            if self._closed or self._bouncing(now):
                return
            # A press while already down means a release was lost (or too short to be
            # real): the new press starts afresh.
            self._down = True
            self._held = False
            self._press_mono = now
            self._press_wall = self._wall_clock()
            self._last_edge = now

    def _released(self) -> None:
        now = self._clock()
        with self._lock:
            if self._closed or not self._down or self._bouncing(now):
                return
            self._down = False
            self._last_edge = now
            if self._held:
                return  # the long press has been reported when it was held
            if self._episode is None:
                event = self._event("start")
                self._episode = event
            else:
                event = self._event("stop", self._episode.event_id)
                self._episode = None
            self._emit(event)

    def _held_down(self) -> None:
        with self._lock:
            if self._closed or not self._down or self._held:
                return
            self._held = True
            self._emit(self._event("now"))

    def _bouncing(self, now: float) -> bool:
        return self._last_edge is not None and now - self._last_edge < self._debounce_s

    def _event(self, action: EpisodeAction, episode_id: str | None = None) -> ButtonEvent:
        event_id = str(uuid.uuid4())
        return ButtonEvent(
            event_id=event_id,
            action=action,
            ts=self._press_wall,
            monotonic=self._press_mono,
            episode_id=episode_id or event_id,
        )

    def _emit(self, event: ButtonEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            # Raised on gpiozero's event thread, it would end up nowhere useful.
            log.exception("episode button: the handler failed on %s", event.action)

    def close(self) -> None:
        """Stop reporting presses and release the pin; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._button.close()


# --- local cold warning -------------------------------------------------------------

DEFAULT_COLD_C: Final = 16.0
DEFAULT_COLD_HOLD_S: Final = 300.0
COLD_CLEAR_MARGIN_C: Final = 0.5  # as the hub's rules: clears at threshold + 0.5 °C


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


# --- sensor power -------------------------------------------------------------------

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


# --- all of them, from pin numbers ----------------------------------------------------


class Indicators:
    """The devices fitted to this Pi, built from BCM pin numbers (None = not fitted).

    Methods do nothing for what is not fitted, so the runner never checks. If opening a
    pin fails, the devices already opened are closed before `IndicatorError` is raised.
    """

    def __init__(
        self,
        *,
        led_pin: int | None = 17,
        button_pin: int | None = 27,
        buzzer_pin: int | None = None,
        power_pin: int | None = None,
        cold_led_pin: int | None = None,
        on_episode: Callable[[ButtonEvent], None] | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        bounce_s: float = DEFAULT_DEBOUNCE_S,
        warn_interval_s: float = DEFAULT_WARN_INTERVAL_S,
        power_active_high: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        pin_factory: Any = None,
    ) -> None:
        if button_pin is not None and on_episode is None:
            raise ValueError("on_episode is required when a button is fitted")
        if cold_led_pin is not None and led_pin is None:
            raise ValueError("a cold LED needs the status LED (led_pin) too")
        self.status: StatusLight | None = None
        self.button: EpisodeButton | None = None
        self.warning: LocalWarning | None = None
        self.power: PowerSwitch | None = None
        self._opened: list[Any] = []
        try:
            import gpiozero
            from gpiozero.exc import BadPinFactory, GPIOZeroError, PinFactoryFallback
        except ImportError as exc:
            raise IndicatorError(f"gpiozero is not installed: {exc}", no_gpio=True) from exc

        def open_device(what: str, setting: str, pin: int, make: Callable[[], Any]) -> Any:
            try:
                with warnings.catch_warnings():
                    # Off a Pi, gpiozero warns about every pin library it could not load
                    # before it gives up; BadPinFactory below says it in one line.
                    warnings.simplefilter("ignore", PinFactoryFallback)
                    device = make()
            except (GPIOZeroError, OSError, ValueError) as exc:
                raise IndicatorError(
                    f"cannot open the {what} on GPIO{pin}: {exc}",
                    setting=setting,
                    no_gpio=isinstance(exc, BadPinFactory),
                ) from exc
            self._opened.append(device)
            return device

        try:
            if led_pin is not None:
                led = open_device(
                    "status LED",
                    "led_pin",
                    led_pin,
                    lambda: gpiozero.LED(led_pin, pin_factory=pin_factory),
                )
                cold_led = None
                if cold_led_pin is not None:
                    cold_led = open_device(
                        "cold LED",
                        "cold_led_pin",
                        cold_led_pin,
                        lambda: gpiozero.LED(cold_led_pin, pin_factory=pin_factory),
                    )
                self.status = StatusLight(led, cold_led)
            if button_pin is not None and on_episode is not None:
                button = open_device(
                    "episode button",
                    "button_pin",
                    button_pin,
                    lambda: gpiozero.Button(
                        button_pin,
                        pull_up=True,
                        bounce_time=bounce_s or None,
                        hold_time=hold_s,
                        pin_factory=pin_factory,
                    ),
                )
                self.button = EpisodeButton(button, on_episode, clock, wall_clock, bounce_s)
            if buzzer_pin is not None:
                buzzer = open_device(
                    "buzzer",
                    "buzzer_pin",
                    buzzer_pin,
                    lambda: gpiozero.Buzzer(buzzer_pin, pin_factory=pin_factory),
                )
                self.warning = LocalWarning(buzzer, clock, warn_interval_s)
            if power_pin is not None:
                # On from the start: the sensor is powered for as long as we run.
                switch = open_device(
                    "sensor power switch",
                    "power_pin",
                    power_pin,
                    lambda: gpiozero.OutputDevice(
                        power_pin,
                        active_high=power_active_high,
                        initial_value=True,
                        pin_factory=pin_factory,
                    ),
                )
                self.power = PowerSwitch(switch)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Indicators:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def show(self, state: LightState) -> None:
        if self.status is not None:
            self.status.show(state)

    def update_status(self, *, sensor_fault: bool, hub_reachable: bool) -> None:
        if self.status is not None:
            self.status.update(sensor_fault=sensor_fault, hub_reachable=hub_reachable)

    def show_cold(self, cold: bool) -> None:
        if self.status is not None:
            self.status.show_cold(cold)

    def confirm(self, action: str) -> None:
        """Flash the status LED to confirm a button press."""
        if self.status is not None:
            self.status.confirm(action)

    def signal(self, signals: RoomSignals) -> bool:
        """Show `signals` on whatever is fitted; True when the buzzer chirped now."""
        self.show(signals.light)
        self.show_cold(signals.cold_led)
        if self.warning is None:
            return False
        return self.warning.update(signals.local_cold, signals.hub_reachable)

    def warn(self, room_cold: bool, hub_reachable: bool) -> bool:
        """Chirp the buzzer if due (see LocalWarning.update); False when none is fitted."""
        if self.warning is None:
            return False
        return self.warning.update(room_cold, hub_reachable)

    def close(self) -> None:
        """Close every device, the button first so no press is reported while the rest shut
        down; safe to call twice. A device that fails to close does not keep the others
        open: the failure is logged."""
        wrappers = (self.button, self.warning, self.status, self.power)
        closers: list[Callable[[], None]] = [w.close for w in wrappers if w is not None]
        # Devices opened before a constructor failed have no wrapper yet; closing twice is fine.
        closers += [device.close for device in reversed(self._opened)]
        self._opened.clear()
        for close in closers:
            try:
                close()
            except Exception:
                log.warning("closing the indicators", exc_info=True)
