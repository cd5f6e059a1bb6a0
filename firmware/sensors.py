"""The sensor seam: one `Sensor` protocol, the real DHT22/DHT11 and a simulated one.

The DHT driver is imported only when a DHT sensor is opened, so this module (and the
whole firmware) imports on any machine; the simulated sensor plays scripted rooms for
the demo and the tests. `SensorReader` adds the retry policy on top of any sensor.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol, get_args

from contract.errors import NurseryError
from contract.topics import HUMIDITY_RANGE_PCT, TEMPERATURE_RANGE_C

if TYPE_CHECKING:
    from firmware.config import FirmwareSettings

log = logging.getLogger("nursery.firmware")

DHTKind = Literal["dht22", "dht11"]
Scenario = Literal["steady", "cold-night", "flaky", "hang"]

# The driver returns its cached values for any read within 2 s of its previous one.
DHT_MIN_READ_SPACING_S: Final = 2.0
PI_EXTRA_HINT: Final = "install the pi extra: pip install 'nursery-monitor[pi]'"


class SensorError(NurseryError, RuntimeError):
    """Root of the sensor exceptions."""


class SensorReadError(SensorError):
    """One read failed (checksum, short buffer, no answer); the next one may work."""


class SensorUnavailable(SensorError):
    """The sensor cannot be opened (or used any more); retrying will not help."""


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One measurement as the sensor reported it, before any plausibility rules."""

    temperature_c: float
    humidity_pct: float


class Sensor(Protocol):
    """What the firmware needs from a sensor.

    `min_read_spacing_s` is the shortest gap between two reads that still gives a fresh
    measurement; the reader waits that long between attempts.
    """

    @property
    def min_read_spacing_s(self) -> float: ...

    def read(self) -> SensorReading:
        """Measure now; raise SensorReadError when this read failed."""
        ...

    def close(self) -> None:
        """Release the hardware; safe to call twice."""
        ...


# --- DHT22 / DHT11 ------------------------------------------------------------------


class DHTDriver(Protocol):
    """The part of `adafruit_dht.DHT22` we use; tests pass a fake through `driver_factory`."""

    @property
    def temperature(self) -> float | None: ...

    @property
    def humidity(self) -> float | None: ...

    def exit(self) -> None: ...


DriverFactory = Callable[[DHTKind, int, bool], DHTDriver]


def _describe(kind: DHTKind, pin: int) -> str:
    return f"cannot open a {kind.upper()} on GPIO{pin}"


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Undo the SIGTERM handler Blinka's pulseio installs (it raises SystemExit(1)).

    Without this our own handler, which asks the runner to stop cleanly, would be
    replaced. Signal handlers can only be changed from the main thread.
    """
    in_main = threading.current_thread() is threading.main_thread()
    saved = signal.getsignal(signal.SIGTERM) if in_main else None
    try:
        yield
    finally:
        if in_main and saved is not None and signal.getsignal(signal.SIGTERM) is not saved:
            signal.signal(signal.SIGTERM, saved)


def adafruit_driver(kind: DHTKind, pin: int, use_pulseio: bool) -> DHTDriver:
    """Open the real driver, turning every "not on a Pi / not installed" into SensorUnavailable."""
    what = _describe(kind, pin)
    # Blinka would otherwise offer, on a terminal, to pip-install Pi packages.
    os.environ.setdefault("BLINKA_SKIP_DEPENDENCY_CHECK", "1")
    banner = io.StringIO()
    try:
        # Off a Pi these imports print "GENERIC_X86 is not fully supported" on stdout.
        with contextlib.redirect_stdout(banner):
            import adafruit_dht
            import board
    except ImportError as exc:
        raise SensorUnavailable(
            f"{what}: the DHT driver is not installed; {PI_EXTRA_HINT}"
        ) from exc
    except (NotImplementedError, RuntimeError, OSError) as exc:
        raise SensorUnavailable(
            f"{what}: this machine has no Raspberry Pi GPIO ({exc}); "
            'use sensor = "simulated" off a Pi'
        ) from exc
    finally:
        if banner.getvalue().strip():
            log.debug("DHT driver import said: %s", banner.getvalue().strip())
    try:
        board_pin = getattr(board, f"D{pin}")
    except AttributeError as exc:
        raise SensorUnavailable(
            f'{what}: this machine has no Raspberry Pi GPIO (use sensor = "simulated" off a Pi)'
        ) from exc
    driver_class = adafruit_dht.DHT22 if kind == "dht22" else adafruit_dht.DHT11
    try:
        driver: DHTDriver = driver_class(board_pin, use_pulseio=use_pulseio)
    except Exception as exc:  # the driver raises bare RuntimeError, OSError, NameError...
        hint = (
            "; a stale libgpiod_pulsein process may hold the pin (or set use_pulseio = false)"
            if use_pulseio
            else ""
        )
        raise SensorUnavailable(f"{what}: {exc}{hint}") from exc
    return driver


class DHTSensor:
    """A DHT22 or DHT11 on one GPIO pin, with one driver kept for the object's life."""

    min_read_spacing_s: float = DHT_MIN_READ_SPACING_S

    def __init__(
        self,
        kind: DHTKind,
        pin: int,
        use_pulseio: bool,
        driver_factory: DriverFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind not in get_args(DHTKind):
            raise ValueError(f"kind must be dht22 or dht11, got {kind!r}")
        self.kind = kind
        self.pin = pin
        self._clock = clock
        self._last_read_end: float | None = None
        self._closed = False
        factory = driver_factory or adafruit_driver
        # pulseio installs its handler when adafruit_dht is imported, so cover both.
        with _keep_sigterm_handler():
            self._driver = factory(kind, pin, use_pulseio)

    def read(self) -> SensorReading:
        """One fresh measurement, or SensorReadError; never the driver's cached value."""
        if self._closed:
            raise SensorUnavailable(f"the {self.kind.upper()} on GPIO{self.pin} is closed")
        now = self._clock()
        if self._last_read_end is not None:
            since = now - self._last_read_end
            if since < DHT_MIN_READ_SPACING_S:
                raise SensorReadError(
                    f"read {since:.2f} s after the previous one; the {self.kind.upper()} "
                    f"would repeat its cached value (wait {DHT_MIN_READ_SPACING_S:g} s)"
                )
        try:
            # Both properties come from one measurement: the second hits the 2 s cache.
            temperature = self._driver.temperature
            humidity = self._driver.humidity
        except (RuntimeError, OSError) as exc:
            raise SensorReadError(str(exc) or type(exc).__name__) from exc
        finally:
            # Taken after the driver's own timestamp, so a gap from here is a safe gap.
            self._last_read_end = self._clock()
        if temperature is None or humidity is None:
            raise SensorReadError("the DHT driver returned no value")
        reading = SensorReading(float(temperature), float(humidity))
        if not (
            TEMPERATURE_RANGE_C[0] <= reading.temperature_c <= TEMPERATURE_RANGE_C[1]
            and HUMIDITY_RANGE_PCT[0] <= reading.humidity_pct <= HUMIDITY_RANGE_PCT[1]
        ):
            # Outside what the part can measure (NaN included): a garbled read.
            raise SensorReadError(
                f"impossible value {reading.temperature_c} °C, {reading.humidity_pct} %RH"
            )
        return reading

    def close(self) -> None:
        """Stop the driver's pulseio helper process; only the first call does anything."""
        if self._closed:
            return
        self._closed = True
        self._driver.exit()


# --- simulated ----------------------------------------------------------------------

COLD_NIGHT_CYCLE_S: Final = 600.0
FLAKY_CYCLE_READS: Final = 50
FLAKY_SPIKE_READ: Final = 12  # one read per cycle comes back 15 °C too warm
FLAKY_SPIKE_C: Final = 15.0
FLAKY_STUCK_READS: Final = range(20, 32)  # the same value, exactly, read after read
FLAKY_DROPOUT_READS: Final = range(40, 48)  # no answer at all: retries run out
FLAKY_ERROR_EVERY: Final = 7  # an occasional checksum error that a retry fixes
# `hang`: a steady room this long after the first read, then a read that never returns,
# as a wedged DHT driver's does (nothing raised, nothing logged by the driver).
HANG_AFTER_S: Final = 5.0


def _smoothstep(start: float, end: float, fraction: float) -> float:
    fraction = min(max(fraction, 0.0), 1.0)
    return start + (end - start) * fraction * fraction * (3.0 - 2.0 * fraction)


def cold_night_temperature(elapsed_s: float) -> float:
    """The noiseless cold-night curve: 19 °C, down to 15 °C, back up to 18.5 °C, repeat."""
    t = elapsed_s % COLD_NIGHT_CYCLE_S
    if t < 60.0:
        return 19.0
    if t < 240.0:
        return _smoothstep(19.0, 15.0, (t - 60.0) / 180.0)
    if t < 420.0:
        return 15.0
    return _smoothstep(15.0, 18.5, (t - 420.0) / 180.0)


class SimulatedSensor:
    """A scripted room for demos and tests: values are a function of time since the first read.

    `flaky` follows its script by read count instead (every 50 reads: one spike, a stuck
    stretch, a dropout long enough to exhaust retries, and scattered checksum errors), so
    its failures show up at any interval. `hang` reads a steady room for HANG_AFTER_S,
    then blocks in `read` until the sensor is closed (from another thread): what the
    systemd watchdog is there for.
    """

    min_read_spacing_s: float = 0.0

    def __init__(
        self,
        scenario: Scenario,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        if scenario not in get_args(Scenario):
            raise ValueError(f"unknown scenario {scenario!r}")
        self.scenario = scenario
        self._clock = clock
        self._rng = random.Random(seed)
        self._start: float | None = None
        self._reads = 0
        self._stuck: SensorReading | None = None
        self._closed = False
        self._released = threading.Event()

    def read(self) -> SensorReading:
        if self._closed:
            raise SensorUnavailable("the simulated sensor is closed")
        now = self._clock()
        if self._start is None:
            self._start = now
        elapsed = now - self._start
        index = self._reads
        self._reads += 1
        if self.scenario == "flaky":
            return self._flaky(index % FLAKY_CYCLE_READS)
        if self.scenario == "cold-night":
            return self._measure(cold_night_temperature(elapsed))
        if self.scenario == "hang" and elapsed >= HANG_AFTER_S:
            log.warning("simulated sensor: this read hangs (scenario hang)")
            self._released.wait()
            raise SensorUnavailable("the simulated sensor was closed during a hung read")
        return self._measure(19.5)

    def _measure(self, temperature_c: float, offset_c: float = 0.0) -> SensorReading:
        # Relative humidity rises as the same air cools.
        humidity = 50.0 + (19.5 - temperature_c) * 2.5 + self._rng.uniform(-0.5, 0.5)
        temperature = temperature_c + offset_c + self._rng.uniform(-0.1, 0.1)
        # A DHT22 reports tenths.
        return SensorReading(round(temperature, 1), round(min(max(humidity, 0.0), 100.0), 1))

    def _flaky(self, step: int) -> SensorReading:
        if step in FLAKY_DROPOUT_READS:
            raise SensorReadError("DHT sensor not found, check wiring (simulated)")
        if step in FLAKY_STUCK_READS:
            if step == FLAKY_STUCK_READS.start or self._stuck is None:
                self._stuck = self._measure(19.5)
            return self._stuck
        if step == FLAKY_SPIKE_READ:
            return self._measure(19.5, offset_c=FLAKY_SPIKE_C)
        if step % FLAKY_ERROR_EVERY == FLAKY_ERROR_EVERY - 1:
            raise SensorReadError("Checksum did not validate. Try again. (simulated)")
        return self._measure(19.5)

    def close(self) -> None:
        self._closed = True
        self._released.set()


def open_sensor(settings: FirmwareSettings) -> Sensor:
    """The sensor the settings ask for; the simulated one only when asked by name."""
    if settings.sensor == "simulated":
        return SimulatedSensor(settings.scenario)
    return DHTSensor(settings.sensor, settings.pin, settings.use_pulseio)


# --- retries ------------------------------------------------------------------------


class SensorReader:
    """Read with retries, spaced on `stop.wait` so a shutdown never waits out a retry.

    Keeps counters for the runner and the logs: `reads` (attempts), `errors` (failed
    attempts) and `consecutive_failures` (reading slots that failed after all retries
    since the last good reading). The spacing also applies across slots, so a sensor is
    never asked again sooner than `spacing_s` after its previous attempt ended.
    """

    def __init__(
        self,
        sensor: Sensor,
        retries: int,
        spacing_s: float,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retries < 0 or not spacing_s >= 0:
            raise ValueError("retries and spacing_s must not be negative")
        self.sensor = sensor
        self.retries = retries
        self.spacing_s = spacing_s
        self._stop = stop
        self._clock = clock
        self._last_attempt_end: float | None = None
        self.reads = 0
        self.errors = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def read(self) -> SensorReading | None:
        """A good reading, or None when every attempt failed or `stop` was set.

        Only a slot whose attempts all failed counts as a failure; check `stop` to tell
        the two apart.
        """
        for _attempt in range(self.retries + 1):
            if not self._wait_for_spacing():
                return None
            self.reads += 1
            try:
                reading = self.sensor.read()
            except SensorReadError as exc:
                self.errors += 1
                self.last_error = str(exc)
                continue
            finally:
                self._last_attempt_end = self._clock()
            self.consecutive_failures = 0
            return reading
        self.consecutive_failures += 1
        return None

    def _wait_for_spacing(self) -> bool:
        """Wait until the sensor may be read again; False if `stop` was set meanwhile."""
        if self._last_attempt_end is None or self.spacing_s == 0:
            return not self._stop.is_set()
        while True:
            remaining = self._last_attempt_end + self.spacing_s - self._clock()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(remaining):
                return False
