"""The sensor seam: simulated scenarios, the DHT wrapper over a fake driver, retries."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from firmware.config import FirmwareSettings
from firmware.sensors import (
    DHT_MIN_READ_SPACING_S,
    FLAKY_CYCLE_READS,
    HANG_AFTER_S,
    DHTKind,
    DHTSensor,
    SensorReader,
    SensorReadError,
    SensorReading,
    SensorUnavailable,
    SimulatedSensor,
    open_sensor,
)

# --- helpers ------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Outcome = tuple[float | None, float | None] | Exception


class FakeDriver:
    """Stands in for adafruit_dht.DHT22: each measurement plays the next scripted outcome."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = list(outcomes)
        self.measurements = 0
        self.exits = 0
        self._current: tuple[float | None, float | None] = (None, None)

    def _measure(self) -> None:
        # Like the real driver, temperature triggers the measurement; humidity reuses it.
        self.measurements += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self._current = outcome

    @property
    def temperature(self) -> float | None:
        self._measure()
        return self._current[0]

    @property
    def humidity(self) -> float | None:
        return self._current[1]

    def exit(self) -> None:
        self.exits += 1


def dht(
    outcomes: list[Outcome], clock: Callable[[], float] | None = None
) -> tuple[DHTSensor, FakeDriver]:
    driver = FakeDriver(outcomes)
    sensor = DHTSensor(
        "dht22",
        4,
        use_pulseio=False,
        driver_factory=lambda kind, pin, use_pulseio: driver,
        clock=clock or FakeClock(),
    )
    return sensor, driver


def always_later(step: float = DHT_MIN_READ_SPACING_S + 0.5) -> Callable[[], float]:
    """A clock that moves on by more than the DHT's cache window at every look."""
    ticks = itertools.count(0.0, step)
    return lambda: next(ticks)


def play(sensor: SimulatedSensor, clock: FakeClock, times: list[float]) -> list[SensorReading]:
    readings = []
    for t in times:
        clock.now = 1000.0 + t
        readings.append(sensor.read())
    return readings


def outcomes(sensor: SimulatedSensor, count: int) -> list[SensorReading | str]:
    result: list[SensorReading | str] = []
    for _ in range(count):
        try:
            result.append(sensor.read())
        except SensorReadError as exc:
            result.append(str(exc))
    return result


def longest_identical_run(readings: list[SensorReading | str]) -> int:
    """Longest stretch of successive good reads with exactly equal values."""
    good = [r for r in readings if isinstance(r, SensorReading)]
    return max(len(list(group)) for _, group in itertools.groupby(good))


@pytest.fixture
def sigterm_guard() -> Iterator[None]:
    """Put back whatever SIGTERM handler the test run had, whatever the test did."""
    saved = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, saved)


# --- simulated ----------------------------------------------------------------------


def test_steady_stays_near_19_5_and_50_percent() -> None:
    clock = FakeClock()
    sensor = SimulatedSensor("steady", clock=clock, seed=1)
    readings = play(sensor, clock, [t * 10.0 for t in range(200)])
    assert all(19.35 <= r.temperature_c <= 19.65 for r in readings)
    assert all(49.0 <= r.humidity_pct <= 51.0 for r in readings)
    assert len({r.temperature_c for r in readings}) > 1, "steady still has sensor noise"


def test_cold_night_crosses_below_16_and_recovers() -> None:
    clock = FakeClock()
    sensor = SimulatedSensor("cold-night", clock=clock, seed=2)
    times = [t * 5.0 for t in range(121)]  # 0 .. 600 s
    readings = dict(zip(times, play(sensor, clock, times), strict=True))

    assert 18.7 <= readings[0.0].temperature_c <= 19.3
    assert 18.7 <= readings[55.0].temperature_c <= 19.3
    assert readings[300.0].temperature_c < 16.0
    assert 14.7 <= readings[300.0].temperature_c <= 15.3
    first_cold = min(t for t, r in readings.items() if r.temperature_c < 16.0)
    assert 150.0 <= first_cold <= 240.0
    assert readings[595.0].temperature_c >= 18.0
    assert all(r.temperature_c >= 16.5 for t, r in readings.items() if t >= 560.0)
    # The same air holds more relative humidity when it is colder.
    assert readings[300.0].humidity_pct > readings[0.0].humidity_pct + 5.0


def test_cold_night_repeats_every_600_s() -> None:
    clock = FakeClock()
    sensor = SimulatedSensor("cold-night", clock=clock, seed=3)
    _, first, second = play(sensor, clock, [0.0, 300.0, 900.0])
    assert first.temperature_c < 16.0
    assert second.temperature_c < 16.0
    assert abs(first.temperature_c - second.temperature_c) <= 0.3


def test_cold_night_time_starts_at_the_first_read() -> None:
    clock = FakeClock()
    clock.now = 5_000_000.0  # an arbitrary monotonic origin
    sensor = SimulatedSensor("cold-night", clock=clock, seed=4)
    assert sensor.read().temperature_c > 18.5
    clock.advance(300.0)
    assert sensor.read().temperature_c < 16.0


def test_flaky_has_errors_one_spike_per_cycle_and_a_stuck_stretch() -> None:
    sensor = SimulatedSensor("flaky", clock=FakeClock(), seed=5)
    cycle = outcomes(sensor, FLAKY_CYCLE_READS)

    errors = [r for r in cycle if isinstance(r, str)]
    good = [r for r in cycle if isinstance(r, SensorReading)]
    assert len(errors) >= 5
    assert any("Checksum" in e for e in errors)
    spikes = [r for r in good if r.temperature_c > 30.0]
    assert len(spikes) == 1
    assert 34.0 <= spikes[0].temperature_c <= 35.0
    assert longest_identical_run(cycle) >= 10
    normal = [r for r in good if r.temperature_c <= 30.0]
    assert all(19.35 <= r.temperature_c <= 19.65 for r in normal)

    # Somewhere the errors come in a row, more than a few retries can ride out.
    in_a_row = max(
        len(list(group))
        for is_error, group in itertools.groupby(cycle, key=lambda r: isinstance(r, str))
        if is_error
    )
    assert in_a_row >= 5


def test_flaky_repeats_its_pattern() -> None:
    sensor = SimulatedSensor("flaky", clock=FakeClock(), seed=6)
    first = outcomes(sensor, FLAKY_CYCLE_READS)
    second = outcomes(sensor, FLAKY_CYCLE_READS)
    assert [isinstance(r, str) for r in first] == [isinstance(r, str) for r in second]
    assert sum(isinstance(r, SensorReading) and r.temperature_c > 30 for r in second) == 1


def test_steady_has_no_stuck_stretch() -> None:
    sensor = SimulatedSensor("steady", clock=FakeClock(), seed=7)
    assert longest_identical_run(outcomes(sensor, 200)) < 5


def test_hang_reads_a_steady_room_then_a_read_never_returns_until_closed() -> None:
    clock = FakeClock()
    sensor = SimulatedSensor("hang", clock=clock, seed=8)
    assert sensor.read().temperature_c == pytest.approx(19.5, abs=0.2)
    clock.advance(HANG_AFTER_S - 0.1)
    assert sensor.read().temperature_c == pytest.approx(19.5, abs=0.2)
    clock.advance(0.1)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            sensor.read()
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and outcome == [], "the read hangs: no value, no error"
    sensor.close()  # only closing it from another thread ends the read
    reader.join(5)
    assert not reader.is_alive()
    assert isinstance(outcome[0], SensorUnavailable)


@pytest.mark.parametrize("scenario", ["steady", "cold-night", "flaky"])
def test_scenarios_are_deterministic_per_seed(scenario: str) -> None:
    def script(seed: int) -> list[SensorReading | str]:
        clock = FakeClock()
        sensor = SimulatedSensor(scenario, clock=clock, seed=seed)  # type: ignore[arg-type]
        result: list[SensorReading | str] = []
        for _ in range(120):
            clock.advance(5.0)
            result.extend(outcomes(sensor, 1))
        return result

    assert script(11) == script(11)
    assert script(11) != script(12)


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="scenario"):
        SimulatedSensor("tropical")  # type: ignore[arg-type]


def test_closed_simulated_sensor_refuses_reads() -> None:
    sensor = SimulatedSensor("steady")
    sensor.close()
    with pytest.raises(SensorUnavailable):
        sensor.read()


# --- DHT over a fake driver ---------------------------------------------------------


def test_dht_reads_through_the_driver() -> None:
    calls: list[tuple[DHTKind, int, bool]] = []
    driver = FakeDriver([(21.3, 44.0)])

    def factory(kind: DHTKind, pin: int, use_pulseio: bool) -> FakeDriver:
        calls.append((kind, pin, use_pulseio))
        return driver

    sensor = DHTSensor("dht11", 17, use_pulseio=True, driver_factory=factory)
    assert calls == [("dht11", 17, True)]
    assert sensor.read() == SensorReading(21.3, 44.0)
    assert driver.measurements == 1


@pytest.mark.parametrize(
    "error",
    [
        "Checksum did not validate. Try again.",
        "A full buffer was not returned. Try again.",
        "DHT sensor not found, check wiring",
    ],
)
def test_dht_driver_errors_become_read_errors(error: str) -> None:
    sensor, _ = dht([RuntimeError(error)])
    with pytest.raises(SensorReadError, match=error.split(".")[0]):
        sensor.read()


@pytest.mark.parametrize("values", [(None, 40.0), (20.0, None), (None, None)])
def test_dht_none_values_become_read_errors(values: tuple[float | None, float | None]) -> None:
    sensor, _ = dht([values])
    with pytest.raises(SensorReadError, match="no value"):
        sensor.read()


@pytest.mark.parametrize("values", [(3276.7, 40.0), (20.0, float("nan")), (-41.0, 40.0)])
def test_dht_impossible_values_become_read_errors(values: tuple[float, float]) -> None:
    sensor, _ = dht([values])
    with pytest.raises(SensorReadError, match="impossible"):
        sensor.read()


def test_dht_never_returns_the_drivers_cached_value() -> None:
    clock = FakeClock()
    sensor, driver = dht([(20.0, 40.0), (20.5, 41.0)], clock=clock)
    assert sensor.read() == SensorReading(20.0, 40.0)

    clock.advance(1.0)
    with pytest.raises(SensorReadError, match="cached"):
        sensor.read()
    assert driver.measurements == 1, "the driver must not be asked within its cache window"

    clock.advance(DHT_MIN_READ_SPACING_S)
    assert sensor.read() == SensorReading(20.5, 41.0)


def test_dht_spacing_counts_from_a_failed_read_too() -> None:
    clock = FakeClock()
    sensor, driver = dht([RuntimeError("Checksum did not validate"), (20.0, 40.0)], clock=clock)
    with pytest.raises(SensorReadError):
        sensor.read()
    clock.advance(0.5)
    with pytest.raises(SensorReadError, match="cached"):
        sensor.read()
    clock.advance(DHT_MIN_READ_SPACING_S)
    assert sensor.read() == SensorReading(20.0, 40.0)
    assert driver.measurements == 2


def test_dht_close_calls_exit_once() -> None:
    sensor, driver = dht([(20.0, 40.0)])
    sensor.close()
    sensor.close()
    assert driver.exits == 1
    with pytest.raises(SensorUnavailable, match="closed"):
        sensor.read()


def test_dht_keeps_our_sigterm_handler(sigterm_guard: None) -> None:
    def ours(signum: int, frame: FrameType | None) -> None:
        """The CLI's handler: ask the runner to stop."""

    def pulseio_like(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(1)

    def factory(kind: DHTKind, pin: int, use_pulseio: bool) -> FakeDriver:
        signal.signal(signal.SIGTERM, pulseio_like)  # what Blinka's pulseio does on a Pi
        return FakeDriver([])

    signal.signal(signal.SIGTERM, ours)
    DHTSensor("dht22", 4, use_pulseio=True, driver_factory=factory)
    assert signal.getsignal(signal.SIGTERM) is ours


def test_dht_keeps_our_sigterm_handler_when_the_driver_fails(sigterm_guard: None) -> None:
    def ours(signum: int, frame: FrameType | None) -> None:
        """The CLI's handler."""

    def factory(kind: DHTKind, pin: int, use_pulseio: bool) -> FakeDriver:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SensorUnavailable("cannot open a DHT22 on GPIO4: Unable to set line 4 to input")

    signal.signal(signal.SIGTERM, ours)
    with pytest.raises(SensorUnavailable):
        DHTSensor("dht22", 4, use_pulseio=True, driver_factory=factory)
    assert signal.getsignal(signal.SIGTERM) is ours


@pytest.mark.parametrize("kind", ["dht22", "dht11"])
def test_real_dht_off_a_pi_is_unavailable_with_a_clear_message(
    kind: DHTKind, sigterm_guard: None
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SensorUnavailable) as raised:
        DHTSensor(kind, 4, use_pulseio=True)
    message = str(raised.value)
    assert f"cannot open a {kind.upper()} on GPIO4" in message
    assert "no Raspberry Pi GPIO" in message
    assert 'sensor = "simulated"' in message
    assert isinstance(raised.value, RuntimeError)
    assert signal.getsignal(signal.SIGTERM) is before


def test_open_sensor_follows_the_settings() -> None:
    simulated = open_sensor(FirmwareSettings(sensor="simulated", interval_s=1, scenario="flaky"))
    assert isinstance(simulated, SimulatedSensor)
    assert simulated.scenario == "flaky"
    with pytest.raises(SensorUnavailable, match="GPIO17"):
        open_sensor(FirmwareSettings(sensor="dht22", pin=17))


def test_importing_sensors_loads_no_driver_and_opening_one_prints_nothing() -> None:
    """Lazy import, and Blinka's "GENERIC_X86 not fully supported" banner kept off stdout."""
    code = (
        "import sys\n"
        "from firmware.sensors import DHTSensor, SensorUnavailable\n"
        "assert 'adafruit_dht' not in sys.modules and 'board' not in sys.modules\n"
        "try:\n"
        "    DHTSensor('dht22', 4, use_pulseio=True)\n"
        "except SensorUnavailable as exc:\n"
        "    print('unavailable:', exc, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "unavailable: cannot open a DHT22 on GPIO4" in done.stderr


# --- retries ------------------------------------------------------------------------


def test_reader_retries_and_counts_errors() -> None:
    sensor, driver = dht(
        [RuntimeError("Checksum did not validate"), (20.0, 40.0)],
        clock=always_later(),
    )
    reader = SensorReader(sensor, retries=3, spacing_s=0, stop=threading.Event())
    assert reader.read() == SensorReading(20.0, 40.0)
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (2, 1, 0)
    assert driver.measurements == 2


def test_reader_gives_up_after_retries_and_never_returns_a_bad_reading() -> None:
    failures: list[Outcome] = [RuntimeError("DHT sensor not found, check wiring")] * 6
    sensor, driver = dht([*failures, (None, 40.0), (19.0, 45.0)], clock=always_later())
    reader = SensorReader(sensor, retries=2, spacing_s=0, stop=threading.Event())

    assert reader.read() is None
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (3, 3, 1)
    assert reader.read() is None
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (6, 6, 2)
    assert reader.last_error is not None
    assert "check wiring" in reader.last_error
    # The None value is an error too; the good reading after it resets the slot count.
    assert reader.read() == SensorReading(19.0, 45.0)
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (8, 7, 0)
    assert driver.measurements == 8


def test_reader_with_no_retries_reads_once() -> None:
    sensor, _ = dht([RuntimeError("A full buffer was not returned")], clock=always_later())
    reader = SensorReader(sensor, retries=0, spacing_s=0, stop=threading.Event())
    assert reader.read() is None
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (1, 1, 1)


def test_reader_over_the_flaky_simulation_reports_the_dropout() -> None:
    reader = SensorReader(
        SimulatedSensor("flaky", clock=FakeClock(), seed=8),
        retries=3,
        spacing_s=0,
        stop=threading.Event(),
    )
    results = [reader.read() for _ in range(40)]
    assert None in results, "the dropout outlasts three retries"
    assert reader.errors > results.count(None) * 4, "single errors were retried away"
    good = [r for r in results if r is not None]
    assert all(isinstance(r, SensorReading) for r in good)


def test_reader_spaces_attempts() -> None:
    script: list[Outcome] = [RuntimeError("Checksum did not validate")] * 2
    sensor, _ = dht([*script, (20.0, 40.0)], clock=always_later())
    reader = SensorReader(sensor, retries=3, spacing_s=0.05, stop=threading.Event())
    started = time.monotonic()
    assert reader.read() == SensorReading(20.0, 40.0)
    assert time.monotonic() - started >= 0.1


def test_reader_spacing_applies_between_slots() -> None:
    clock = FakeClock()
    stop = threading.Event()
    sensor, driver = dht([(20.0, 40.0), (21.0, 41.0)], clock=always_later())
    reader = SensorReader(sensor, retries=0, spacing_s=60.0, stop=stop, clock=clock)
    assert reader.read() == SensorReading(20.0, 40.0)
    stop.set()  # the second read would have to wait 60 s; it sees the stop instead
    assert reader.read() is None
    assert driver.measurements == 1
    assert reader.consecutive_failures == 0, "a stop is not a sensor failure"


def test_reader_stops_waiting_when_stop_is_set() -> None:
    sensor, _ = dht([RuntimeError("Checksum did not validate")] * 4, clock=always_later())
    stop = threading.Event()
    reader = SensorReader(sensor, retries=3, spacing_s=60.0, stop=stop)
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        assert reader.read() is None
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10.0
    assert (reader.reads, reader.errors, reader.consecutive_failures) == (1, 1, 0)


def test_reader_does_not_read_once_stopped() -> None:
    sensor, driver = dht([(20.0, 40.0)], clock=always_later())
    stop = threading.Event()
    stop.set()
    reader = SensorReader(sensor, retries=3, spacing_s=0, stop=stop)
    assert reader.read() is None
    assert driver.measurements == 0
