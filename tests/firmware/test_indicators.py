"""The status LED, episode button, local cold warning and sensor power switch, on
gpiozero's MockFactory: pins are driven (`drive_low`) and LED histories asserted."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gpiozero import LED, Button, Buzzer, Device, OutputDevice
from gpiozero.pins.mock import MockFactory, MockPin

from contract.alert_state import AlertEntry, AlertStateMessage
from firmware.config import FirmwareSettings
from firmware.hub_contact import HubContact
from firmware.indicators import (
    FAST_BLINK,
    SLOW_BLINK,
    ButtonEvent,
    EpisodeButton,
    IndicatorError,
    Indicators,
    LocalColdJudge,
    LocalWarning,
    PowerSwitch,
    StatusLight,
    confirm_flashes,
    hub_says_cold,
    room_signals,
    status_for,
)
from firmware.runner import open_indicators
from firmware.sensor_health import PowerCyclePolicy
from tests.support import wait_until

# Blink threads run on real time; allow for a busy CI machine, still far apart from the
# difference between a fast (0.15 s) and a slow (1 s) blink.
TOLERANCE_S = 0.1


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    mock = MockFactory()
    Device.pin_factory = mock
    try:
        yield mock
    finally:
        mock.reset()
        Device.pin_factory = previous


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeWall:
    """Wall-clock times, one second apart per call, so each event's ts is traceable."""

    def __init__(self) -> None:
        self.base = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return self.base + timedelta(seconds=self.calls)


def pin_of(device: Any) -> MockPin:
    pin: MockPin = device.pin
    return pin


def states(pin: MockPin) -> list[bool]:
    return [bool(s.state) for s in pin.states]


def assert_history(pin: MockPin, expected: list[tuple[float, bool]]) -> None:
    """The pin went through exactly these first len(expected) changes, each (seconds since
    the previous change, state). Unlike MockPin.assert_states_and_times, which zips and so
    passes on a shorter history, a missing change fails."""
    actual = pin.states[: len(expected)]
    assert len(actual) == len(expected), f"only {len(pin.states)} states: {pin.states}"
    for index, (got, (delta, state)) in enumerate(zip(actual, expected, strict=True)):
        assert bool(got.state) == state, f"state {index}: {pin.states}"
        assert got.timestamp == pytest.approx(delta, abs=TOLERANCE_S), f"time {index}: {pin.states}"


def changes_at_least(pin: MockPin, count: int) -> Callable[[], bool]:
    return lambda: len(pin.states) >= count + 1


# --- status LED ---------------------------------------------------------------------


@pytest.fixture
def led(factory: MockFactory) -> Iterator[LED]:
    device = LED(17)
    try:
        yield device
    finally:
        device.close()


def test_ok_is_steady_on(led: LED) -> None:
    light = StatusLight(led)
    pin = pin_of(led)
    pin.clear_states()
    light.show("ok")
    # Steady: nothing else happens for longer than two fast-blink periods.
    deadline = time.monotonic() + 3 * FAST_BLINK.on_s
    while time.monotonic() < deadline:
        assert states(pin) == [False, True]
        time.sleep(0.02)
    assert light.state == "ok"


@pytest.mark.slow
def test_unreachable_blinks_slowly(led: LED) -> None:
    light = StatusLight(led)
    pin = pin_of(led)
    pin.clear_states()
    light.show("unreachable")
    wait_until(changes_at_least(pin, 2), timeout=5, what="one slow blink")
    assert_history(pin, [(0.0, False), (0.0, True), (SLOW_BLINK.on_s, False)])


def test_a_sensor_fault_blinks_fast(led: LED) -> None:
    light = StatusLight(led)
    pin = pin_of(led)
    pin.clear_states()
    light.show("sensor_fault")
    wait_until(changes_at_least(pin, 5), timeout=5, what="fast blinks")
    on, off = FAST_BLINK.on_s, FAST_BLINK.off_s
    assert_history(
        pin, [(0.0, False), (0.0, True), (on, False), (off, True), (on, False), (off, True)]
    )


def test_a_sensor_fault_wins_over_an_unreachable_hub(led: LED) -> None:
    assert status_for(sensor_fault=True, hub_reachable=False) == "sensor_fault"
    assert status_for(sensor_fault=True, hub_reachable=True) == "sensor_fault"
    assert status_for(sensor_fault=False, hub_reachable=False) == "unreachable"
    assert status_for(sensor_fault=False, hub_reachable=True) == "ok"
    light = StatusLight(led)
    pin = pin_of(led)
    pin.clear_states()
    light.update(sensor_fault=True, hub_reachable=False)
    wait_until(changes_at_least(pin, 3), timeout=5, what="fast blinks")
    assert_history(pin, [(0.0, False), (0.0, True), (FAST_BLINK.on_s, False)])


def test_back_to_ok_stops_the_blink_and_stays_on(led: LED) -> None:
    light = StatusLight(led)
    pin = pin_of(led)
    light.show("sensor_fault")
    wait_until(changes_at_least(pin, 3), timeout=5, what="fast blinks")
    light.show("ok")
    assert led.is_lit
    pin.clear_states()
    deadline = time.monotonic() + 3 * FAST_BLINK.on_s
    while time.monotonic() < deadline:
        assert states(pin) == [True]
        time.sleep(0.02)


class RecordingLED:
    """Counts the calls StatusLight makes, to show a repeated state restarts nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.closed = False

    def on(self) -> None:
        self.calls.append("on")

    def off(self) -> None:
        self.calls.append("off")

    def blink(self, on_time: float, off_time: float, background: bool) -> None:
        self.calls.append(f"blink {on_time}/{off_time}")

    def close(self) -> None:
        self.calls.append("close")
        self.closed = True


def test_showing_the_same_state_again_does_not_restart_the_blink() -> None:
    led = RecordingLED()
    light = StatusLight(led)
    for _ in range(5):
        light.update(sensor_fault=False, hub_reachable=False)
    light.show("ok")
    light.show("ok")
    assert led.calls == [f"blink {SLOW_BLINK.on_s}/{SLOW_BLINK.off_s}", "on"]
    with pytest.raises(ValueError, match="state must be one of"):
        light.show("sparkly")  # type: ignore[arg-type]


def test_cold_led_follows_show_cold_and_close_turns_everything_off(factory: MockFactory) -> None:
    led, cold_led = LED(17), LED(22)
    light = StatusLight(led, cold_led)
    light.show("ok")
    led_pin, cold_pin = pin_of(led), pin_of(cold_led)
    light.show_cold(True)
    light.show_cold(True)
    light.show_cold(False)
    light.show_cold(True)
    assert states(cold_pin) == [False, True, False, True]
    light.close()
    assert led.closed and cold_led.closed
    assert not led_pin.state and not cold_pin.state
    light.close()  # twice is fine


def test_show_cold_without_a_cold_led_does_nothing(led: LED) -> None:
    light = StatusLight(led)
    light.show_cold(True)
    assert states(pin_of(led)) == [False]


# --- episode button -----------------------------------------------------------------


class ButtonRig:
    """A Button on the mock factory, an EpisodeButton over it, and the events it sent."""

    def __init__(self, hold_s: float = 2.0, debounce_s: float = 0.05) -> None:
        self.clock = FakeClock()
        self.wall = FakeWall()
        self.events: list[ButtonEvent] = []
        self.got_event = threading.Event()
        self.device = Button(27, pull_up=True, bounce_time=debounce_s, hold_time=hold_s)
        self.pin = pin_of(self.device)
        self.button = EpisodeButton(self.device, self._record, self.clock, self.wall, debounce_s)

    def _record(self, event: ButtonEvent) -> None:
        self.events.append(event)
        self.got_event.set()

    def press(self, after_s: float = 1.0) -> None:
        self.clock.advance(after_s)
        self.pin.drive_low()

    def release(self, after_s: float = 0.2) -> None:
        self.clock.advance(after_s)
        self.pin.drive_high()

    def tap(self) -> None:
        self.press()
        self.release()

    def actions(self) -> list[str]:
        return [event.action for event in self.events]


@pytest.fixture
def rig(factory: MockFactory) -> Iterator[ButtonRig]:
    made = ButtonRig()
    try:
        yield made
    finally:
        made.button.close()


@pytest.fixture
def quick_hold_rig(factory: MockFactory) -> Iterator[ButtonRig]:
    made = ButtonRig(hold_s=0.1)
    try:
        yield made
    finally:
        made.button.close()


def test_a_press_starts_an_episode_and_the_next_one_stops_it(rig: ButtonRig) -> None:
    rig.press()
    assert rig.events == []  # a press counts on release: it may yet become a long press
    rig.release()
    rig.tap()
    assert rig.actions() == ["start", "stop"]
    start, stop = rig.events
    assert start.ts == rig.wall.base + timedelta(seconds=1)  # the press, not the release
    assert start.monotonic == 1001.0
    assert stop.ts == rig.wall.base + timedelta(seconds=2)
    assert stop.monotonic == 1002.2
    assert start.episode_id == start.event_id
    assert stop.episode_id == start.event_id
    assert len({start.event_id, stop.event_id}) == 2
    assert rig.button.open_episode is None


def test_presses_keep_toggling(rig: ButtonRig) -> None:
    for _ in range(5):
        rig.tap()
    assert rig.actions() == ["start", "stop", "start", "stop", "start"]
    assert rig.button.open_episode is rig.events[-1]
    assert rig.events[3].episode_id == rig.events[2].event_id


def test_a_long_press_is_one_now_and_no_start(quick_hold_rig: ButtonRig) -> None:
    rig = quick_hold_rig
    rig.press()
    assert rig.got_event.wait(5), "the held event never came"
    assert rig.device.is_held
    rig.release(after_s=2.5)
    assert rig.actions() == ["now"]
    (now,) = rig.events
    assert now.episode_id == now.event_id
    assert now.monotonic == 1001.0  # when the press began
    assert rig.button.open_episode is None
    # The long press did not toggle anything: the next short press starts an episode.
    rig.tap()
    assert rig.actions() == ["now", "start"]


def test_a_long_press_during_an_episode_leaves_it_open(quick_hold_rig: ButtonRig) -> None:
    rig = quick_hold_rig
    rig.tap()
    rig.got_event.clear()
    rig.press()
    assert rig.got_event.wait(5), "the held event never came"
    rig.release()
    rig.tap()
    assert rig.actions() == ["start", "now", "stop"]
    assert rig.events[2].episode_id == rig.events[0].event_id


def test_chatter_on_press_and_release_counts_once(rig: ButtonRig) -> None:
    # A cheap switch: the contacts bounce for a few ms on press and on release.
    rig.press()
    for _ in range(3):
        rig.release(after_s=0.004)
        rig.press(after_s=0.004)
    rig.release(after_s=0.2)
    for _ in range(3):
        rig.press(after_s=0.004)
        rig.release(after_s=0.004)
    assert rig.actions() == ["start"]
    assert rig.events[0].monotonic == 1001.0
    # The next real press, well after the chatter, is a stop.
    rig.tap()
    assert rig.actions() == ["start", "stop"]


def test_the_gpiozero_button_gets_bounce_and_hold_times(factory: MockFactory) -> None:
    calls: list[ButtonEvent] = []
    with Indicators(led_pin=None, button_pin=27, on_episode=calls.append) as fitted:
        assert fitted.button is not None
        device = Device.pin_factory.pin(27)
        assert device.bounce == pytest.approx(0.05)
        assert device.pull == "up"
        device.drive_low()
        device.drive_high()  # no clock advance: within the debounce time, ignored
        assert calls == []


def test_a_failing_handler_is_logged_and_the_button_keeps_working(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def handler(event: ButtonEvent) -> None:
        seen.append(event.action)
        raise RuntimeError("queue full")

    clock = FakeClock()
    device = Button(27)
    button = EpisodeButton(device, handler, clock)
    try:
        with caplog.at_level(logging.ERROR, logger="nursery.firmware"):
            for _ in range(2):
                clock.advance(1)
                device.pin.drive_low()
                clock.advance(0.2)
                device.pin.drive_high()
    finally:
        button.close()
    assert seen == ["start", "stop"]
    assert "the handler failed on start" in caplog.text


def test_no_event_after_close(rig: ButtonRig) -> None:
    rig.button.close()
    rig.button.close()
    assert rig.device.closed
    assert rig.events == []


def test_button_event_checks_itself() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="action"):
        ButtonEvent("a", "pause", now, 0.0, "a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        ButtonEvent("a", "start", now.replace(tzinfo=None), 0.0, "a")
    with pytest.raises(ValueError, match="episode_id"):
        ButtonEvent("a", "start", now, 0.0, "b")
    ButtonEvent("b", "stop", now, 0.0, "a")


# --- local cold judge ---------------------------------------------------------------


def test_cold_needs_the_median_below_the_threshold_for_hold_s() -> None:
    judge = LocalColdJudge(threshold_c=16.0, hold_s=300)
    assert not judge.update(17.0, 0)
    assert not judge.update(15.0, 10)  # median of 17, 15 = 16.0: not below
    assert not judge.update(15.0, 20)  # median 15: below since t=20
    assert judge.median_c == 15.0
    assert not judge.update(15.5, 319)
    assert judge.update(15.5, 320)
    assert judge.cold


def test_one_odd_reading_neither_starts_nor_ends_cold() -> None:
    judge = LocalColdJudge(threshold_c=16.0, hold_s=0)
    for t in range(3):
        judge.update(18.0, t)
    assert not judge.update(5.0, 3)  # a spike: the median stays 18
    for t in range(4, 7):
        judge.update(15.0, t)
    assert judge.cold
    assert judge.update(25.0, 7)  # median 15
    assert judge.cold


def test_cold_clears_only_above_the_clear_level_for_hold_s() -> None:
    judge = LocalColdJudge(threshold_c=16.0, hold_s=100)
    for t in (0, 10, 20, 120):
        judge.update(15.0, t)
    assert judge.cold
    for t in (130, 140, 150, 400):
        judge.update(16.3, t)  # above 16 but below 16.5: still cold
    assert judge.cold
    for t in (410, 420, 430):
        judge.update(16.5, t)
    assert judge.cold  # warm since 420 (the median crossed then), not long enough
    assert not judge.update(16.5, 520)


def test_judge_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="clear_c"):
        LocalColdJudge(threshold_c=16.0, clear_c=15.0)
    with pytest.raises(ValueError, match="hold_s"):
        LocalColdJudge(hold_s=-1)


# --- buzzer -------------------------------------------------------------------------


@pytest.fixture
def buzzer(factory: MockFactory) -> Iterator[Buzzer]:
    device = Buzzer(22)
    try:
        yield device
    finally:
        device.close()


def test_chirps_only_when_cold_and_the_hub_unreachable(buzzer: Buzzer) -> None:
    clock = FakeClock()
    warning = LocalWarning(buzzer, clock, min_interval_s=300)
    pin = pin_of(buzzer)
    assert not warning.update(room_cold=False, hub_reachable=False)
    assert not warning.update(room_cold=True, hub_reachable=True)
    assert not warning.update(room_cold=False, hub_reachable=True)
    assert states(pin) == [False]

    pin.clear_states()
    assert warning.update(room_cold=True, hub_reachable=False)
    wait_until(changes_at_least(pin, 6), timeout=5, what="three beeps")
    beep, gap = warning.chirp.on_s, warning.chirp.off_s
    assert_history(
        pin,
        [
            (0.0, False),
            (0.0, True),
            (beep, False),
            (gap, True),
            (beep, False),
            (gap, True),
            (beep, False),
        ],
    )
    assert warning.chirps == 1


def test_chirps_at_most_once_per_interval(buzzer: Buzzer) -> None:
    clock = FakeClock()
    warning = LocalWarning(buzzer, clock, min_interval_s=300)
    chirped = []
    for _ in range(61):  # ten minutes of a loop turning every 10 s, cold and cut off
        chirped.append(warning.update(room_cold=True, hub_reachable=False))
        clock.advance(10)
    assert [i * 10 for i, did in enumerate(chirped) if did] == [0, 300, 600]
    assert warning.chirps == 3


def test_the_interval_holds_even_if_the_condition_flaps(buzzer: Buzzer) -> None:
    clock = FakeClock()
    warning = LocalWarning(buzzer, clock, min_interval_s=300)
    assert warning.update(room_cold=True, hub_reachable=False)
    clock.advance(30)
    assert not warning.update(room_cold=True, hub_reachable=True)  # hub back
    clock.advance(30)
    assert not warning.update(room_cold=True, hub_reachable=False)  # and gone again
    clock.advance(240)
    assert warning.update(room_cold=True, hub_reachable=False)


def test_the_hub_coming_back_silences_a_chirp_under_way(buzzer: Buzzer) -> None:
    warning = LocalWarning(buzzer, FakeClock(), min_interval_s=300)
    pin = pin_of(buzzer)
    warning.update(room_cold=True, hub_reachable=False)
    wait_until(lambda: pin.state, timeout=5, what="the first beep")
    warning.update(room_cold=True, hub_reachable=True)
    assert not pin.state
    count = len(pin.states)
    time.sleep(3 * warning.chirp.on_s)  # the rest of the pattern would have played by now
    assert len(pin.states) == count


# --- sensor power -------------------------------------------------------------------


@pytest.fixture
def power(factory: MockFactory) -> Iterator[OutputDevice]:
    device = OutputDevice(5, initial_value=True)
    try:
        yield device
    finally:
        device.close()


def test_a_power_cycle_cuts_the_power_waits_and_restores_it(power: OutputDevice) -> None:
    pin = pin_of(power)
    pin.clear_states()
    waits: list[tuple[float, bool]] = []

    def wait(seconds: float) -> bool:
        waits.append((seconds, bool(pin.state)))
        return False

    assert PowerSwitch(power).cycle(wait)
    assert states(pin) == [True, False, True]
    # 2 s with the power off, then 2 s for the sensor to wake up before the next read.
    assert waits == [(2.0, False), (2.0, True)]


def test_a_stop_during_the_cycle_still_restores_the_power(power: OutputDevice) -> None:
    pin = pin_of(power)
    pin.clear_states()
    stop = threading.Event()
    stop.set()
    assert not PowerSwitch(power).cycle(stop.wait)
    assert states(pin) == [True, False, True]

    def broken_wait(seconds: float) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        PowerSwitch(power).cycle(broken_wait)
    assert pin.state


def test_a_hung_sensor_is_cycled_once_per_cooldown(power: OutputDevice) -> None:
    clock = FakeClock()
    policy = PowerCyclePolicy(after_failures=5, cooldown_s=600)
    switch = PowerSwitch(power)
    pin = pin_of(power)
    pin.clear_states()

    def wait(seconds: float) -> bool:
        clock.advance(seconds)
        return False

    for failures in range(1, 100):  # a dead sensor, a failed slot every 10 s
        if policy.due(failures, clock()):
            policy.record_cycle(clock())
            switch.cycle(wait)
        clock.advance(10)
    assert policy.cycles == 2  # 990 s of failures: cycled at ~50 s and ~650 s
    assert states(pin) == [True, False, True, False, True]


# --- the facade ---------------------------------------------------------------------


def test_defaults_fit_a_status_led_and_a_button(factory: MockFactory) -> None:
    events: list[ButtonEvent] = []
    with Indicators(on_episode=events.append) as fitted:
        assert fitted.status is not None
        assert fitted.button is not None
        assert fitted.warning is None and fitted.power is None
        assert not fitted.warn(room_cold=True, hub_reachable=False)
        fitted.show("ok")
        fitted.show_cold(True)  # no cold LED: nothing
        assert factory.pin(17).state
    # Closed and released: the pins can be opened again without a reset.
    LED(17).close()
    Button(27).close()


def test_everything_fitted(factory: MockFactory) -> None:
    clock = FakeClock()
    events: list[ButtonEvent] = []
    fitted = Indicators(
        led_pin=17,
        button_pin=27,
        buzzer_pin=22,
        power_pin=5,
        cold_led_pin=23,
        on_episode=events.append,
        clock=clock,
    )
    try:
        assert factory.pin(5).state, "the sensor is powered from the start"
        fitted.update_status(sensor_fault=False, hub_reachable=True)
        fitted.show_cold(True)
        assert factory.pin(17).state and factory.pin(23).state
        assert fitted.warn(room_cold=True, hub_reachable=False)
        assert fitted.power is not None
        button_pin = factory.pin(27)
        clock.advance(1)
        button_pin.drive_low()
        clock.advance(0.2)
        button_pin.drive_high()
        assert [e.action for e in events] == ["start"]
    finally:
        fitted.close()
    fitted.close()
    for number in (17, 23, 22):
        assert not factory.pin(number).state
    # Every pin was released.
    for device in (LED(17), Button(27), Buzzer(22), LED(23), OutputDevice(5)):
        device.close()


def test_an_active_low_power_switch(factory: MockFactory) -> None:
    with Indicators(led_pin=None, button_pin=None, power_pin=6, power_active_high=False):
        assert not factory.pin(6).state  # on = low, for a P-channel high-side switch


def test_a_failure_half_way_closes_what_was_opened(factory: MockFactory) -> None:
    with pytest.raises(IndicatorError, match="buzzer on GPIO17"):
        Indicators(led_pin=17, button_pin=27, buzzer_pin=17, on_episode=lambda e: None)
    LED(17).close()
    Button(27).close()


def test_a_bad_pin_number_is_an_indicator_error(factory: MockFactory) -> None:
    with pytest.raises(IndicatorError, match="status LED on GPIO99"):
        Indicators(led_pin=99, button_pin=None)


def test_no_gpio_on_this_machine_is_an_indicator_error(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        with pytest.raises(IndicatorError, match="status LED on GPIO17"):
            Indicators(button_pin=None)
    finally:
        Device.pin_factory = previous


def test_the_facade_checks_its_arguments(factory: MockFactory) -> None:
    with pytest.raises(ValueError, match="on_episode"):
        Indicators(button_pin=27)
    with pytest.raises(ValueError, match="cold LED"):
        Indicators(led_pin=None, button_pin=None, cold_led_pin=23)


def test_nothing_fitted_touches_no_gpio(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        with Indicators(led_pin=None, button_pin=None) as fitted:
            fitted.show("sensor_fault")
            fitted.show_cold(True)
            assert not fitted.warn(room_cold=True, hub_reachable=False)
        assert Device.pin_factory is None
    finally:
        Device.pin_factory = previous


# --- what the runner shows: pure decisions ------------------------------------------


def alert(state: str, *conditions: str) -> AlertStateMessage:
    at = datetime(2026, 11, 23, 2, 10, tzinfo=UTC)
    entries = tuple(AlertEntry(n, c, "alert", "open", at) for n, c in enumerate(conditions, 1))
    top = conditions[0] if conditions else None
    return AlertStateMessage("nursery", state, at if top else None, top, None, entries)  # type: ignore[arg-type]


def test_the_hub_says_cold_while_a_cold_incident_is_open_answered_or_not() -> None:
    assert not hub_says_cold(None)
    assert not hub_says_cold(alert("ok"))
    assert hub_says_cold(alert("alert", "cold"))
    assert hub_says_cold(alert("acknowledged", "cold"))  # answered, still cold
    assert hub_says_cold(alert("alert", "no_data", "cold"))  # not the top one
    assert not hub_says_cold(alert("warning", "cool", "fast_drop"))


@pytest.mark.parametrize(
    ("reachable", "hub_cold", "local_cold", "cold_led", "warn"),
    [
        (True, False, False, False, False),
        (True, True, False, True, False),  # the hub's word holds while it answers
        (True, False, True, False, False),  # ...even against the Pi's own judge
        (False, True, False, False, False),  # unreachable: the hub's last word is stale
        (False, False, True, True, True),  # the Pi judges, and warns
    ],
)
def test_who_decides_cold(
    reachable: bool, hub_cold: bool, local_cold: bool, cold_led: bool, warn: bool
) -> None:
    signals = room_signals(
        sensor_fault=False, hub_reachable=reachable, hub_cold=hub_cold, local_cold=local_cold
    )
    assert (signals.cold_led, signals.warn) == (cold_led, warn)
    assert signals.light == ("ok" if reachable else "unreachable")


def test_a_sensor_fault_shows_whatever_the_hub() -> None:
    signals = room_signals(sensor_fault=True, hub_reachable=False, hub_cold=False, local_cold=False)
    assert signals.light == "sensor_fault"


def test_the_hub_is_reachable_until_something_waits_too_long_for_its_answer() -> None:
    contact = HubContact(answer_within_s=10)
    assert contact.reachable(True, 0.0), "nothing sent yet: nothing unanswered"
    assert not contact.reachable(False, 0.0), "no broker, no hub"
    contact.sent(1.0)
    contact.sent(5.0)  # the clock runs from the oldest unanswered message
    assert contact.reachable(True, 10.9)
    assert not contact.reachable(True, 11.0)
    contact.answered(11.5)
    assert contact.reachable(True, 30.0)
    contact.sent(31.0)
    contact.connected(45.0)  # a new connection starts afresh
    assert contact.reachable(True, 50.0)
    with pytest.raises(ValueError, match="positive"):
        HubContact(answer_within_s=0)


def test_a_pi_just_started_gives_its_first_connection_time_before_it_judges_alone() -> None:
    booting = HubContact(answer_within_s=10, started_at=100.0)
    assert booting.reachable(False, 100.0), "no beep before the first connection could happen"
    assert booting.reachable(False, 109.9)
    assert not booting.reachable(False, 110.0), "no broker 10 s after boot: on its own"
    booting.connected(112.0)
    assert booting.reachable(True, 113.0)
    assert not booting.reachable(False, 114.0), "lost after connecting: no second grace"


# --- the status LED confirms a press -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("action", ["start", "stop", "now"])
def test_a_press_is_confirmed_then_the_light_shows_its_state_again(led: LED, action: str) -> None:
    light = StatusLight(led)
    light.show("ok")
    pin = pin_of(led)
    pin.clear_states()
    steps = confirm_flashes(action)
    light.confirm(action)
    light.show("ok")  # the runner keeps calling: the confirmation is not cut short
    wait_until(changes_at_least(pin, len(steps) + 1), what="the confirmation and the way back")
    # From on: each step's state, after the previous step's time; then on again.
    expected = [(0.0, True), (0.0, steps[0][0])]
    expected += [(before[1], step[0]) for before, step in itertools.pairwise(steps)]
    expected.append((steps[-1][1], True))
    assert_history(pin, expected)
    assert len(pin.states) == len(expected), "and then steady"


def test_the_flashes_differ_by_action() -> None:
    lit = {
        action: sum(on for on, _ in confirm_flashes(action)) for action in ("start", "stop", "now")
    }
    assert lit == {"start": 2, "stop": 1, "now": 3}
    assert all(not confirm_flashes(a)[0][0] and not confirm_flashes(a)[-1][0] for a in lit)


@pytest.mark.slow
def test_a_state_change_during_a_confirmation_shows_when_it_ends(led: LED) -> None:
    light = StatusLight(led)
    light.show("ok")
    light.confirm("stop")
    light.show("sensor_fault")  # the sensor fails meanwhile
    pin = pin_of(led)
    steps = confirm_flashes("stop")
    total = sum(seconds for _, seconds in steps)
    started = time.monotonic()

    def fast_blink() -> bool:
        tail = pin.states[-3:]
        return all(abs(s.timestamp - FAST_BLINK.on_s) < TOLERANCE_S for s in tail)

    # After the confirmation (not during it), the fast blink: changes 0.15 s apart.
    wait_until(fast_blink, timeout=total + 5, what="the fast blink after it")
    assert time.monotonic() - started >= total - TOLERANCE_S
    light.close()


def test_a_confirmation_after_close_does_nothing(led: LED) -> None:
    light = StatusLight(led)
    light.close()
    light.confirm("start")
    assert led.closed


# --- which part failed ------------------------------------------------------------------


def test_a_pin_error_names_its_setting(factory: MockFactory) -> None:
    with pytest.raises(IndicatorError) as caught:
        Indicators(led_pin=17, button_pin=27, buzzer_pin=17, on_episode=lambda e: None)
    assert caught.value.setting == "buzzer_pin" and not caught.value.no_gpio


def test_no_gpio_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        with pytest.raises(IndicatorError) as caught:
            Indicators(button_pin=None)
    finally:
        Device.pin_factory = previous
    assert caught.value.no_gpio


def test_signal_drives_every_part(factory: MockFactory) -> None:
    clock = FakeClock()
    with Indicators(
        led_pin=17, button_pin=None, buzzer_pin=22, cold_led_pin=23, clock=clock
    ) as fitted:
        cold_alone = room_signals(
            sensor_fault=False, hub_reachable=False, hub_cold=False, local_cold=True
        )
        assert fitted.signal(cold_alone)
        assert factory.pin(23).state
        assert not fitted.signal(cold_alone), "rate-limited"
        fine = room_signals(sensor_fault=False, hub_reachable=True, hub_cold=False, local_cold=True)
        assert not fitted.signal(fine)
        assert not factory.pin(23).state and factory.pin(17).state


# --- firmware.hub_lost_after_s and the opt-in buzzer --------------------------------


def gpio_numbers(factory: MockFactory) -> set[int]:
    """The BCM numbers of every pin anything has opened on this factory."""
    return {int(info.name.removeprefix("GPIO")) for info in factory.pins}


@pytest.mark.slow
def test_the_led_shows_the_hub_lost_only_after_hub_lost_after_s_and_steady_on_its_answer(
    factory: MockFactory,
) -> None:
    firmware = FirmwareSettings()
    contact = HubContact(firmware.hub_lost_after_s, started_at=0.0)
    with Indicators(led_pin=17, button_pin=None) as fitted:
        pin = factory.pin(17)

        def show(now: float) -> None:
            fitted.signal(
                room_signals(
                    sensor_fault=False,
                    hub_reachable=contact.reachable(True, now),
                    hub_cold=False,
                    local_cold=False,
                )
            )

        contact.connected(1.0)
        show(1.0)
        contact.sent(2.0)  # a reading the hub never answers: it restarts, say
        show(2.0 + firmware.hub_lost_after_s - 0.1)
        assert pin.state and fitted.status is not None and fitted.status.state == "ok"
        show(2.0 + firmware.hub_lost_after_s)
        after = fitted.status  # show() changed it: read it anew
        assert after is not None and after.state == "unreachable"
        wait_until(lambda: not pin.state, timeout=5, what="the slow blink")
        contact.answered(40.0)  # the hub's next receipt
        show(40.0)
        assert fitted.status.state == "ok"
        wait_until(lambda: pin.state, timeout=5, what="steady on again")
    # Not a blink through an ordinary restart of the hub (stop, start, its first receipt).
    assert firmware.hub_lost_after_s == 30


def test_the_buzzer_is_opt_in_nothing_sounds_by_default_when_the_hub_is_lost(
    factory: MockFactory,
) -> None:
    lost_and_cold = room_signals(
        sensor_fault=False, hub_reachable=False, hub_cold=False, local_cold=True
    )
    defaults = FirmwareSettings()
    assert defaults.buzzer_pin is None
    fitted = open_indicators(defaults, lambda event: None, factory)
    assert fitted is not None
    try:
        assert fitted.warning is None, "no buzzer device is even created"
        assert gpio_numbers(factory) == {defaults.led_pin, defaults.button_pin}
        assert not fitted.signal(lost_and_cold)
        assert fitted.status is not None and fitted.status.state == "unreachable"
    finally:
        fitted.close()
    factory.reset()

    with_buzzer = open_indicators(FirmwareSettings(buzzer_pin=22), lambda event: None, factory)
    assert with_buzzer is not None
    try:
        assert with_buzzer.signal(lost_and_cold), "with buzzer_pin set, it chirps"
        buzzer = factory.pin(22)
        wait_until(lambda: sum(1 for s in buzzer.states if s.state) >= 3, what="three beeps")
    finally:
        with_buzzer.close()
