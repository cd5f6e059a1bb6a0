"""Sensor health: error classification, rolling ratios, the stuck-value detector and the
power-cycle policy, all on injected times."""

from __future__ import annotations

import threading

import pytest

from firmware.sensor_health import (
    ObservedSensor,
    PowerCyclePolicy,
    SensorHealth,
    classify_error,
)
from firmware.sensors import (
    FLAKY_CYCLE_READS,
    SensorReader,
    SensorReadError,
    SensorReading,
    SimulatedSensor,
)

GOOD = SensorReading(19.5, 50.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- classification -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Checksum did not validate. Try again.", "checksum"),
        ("Checksum did not validate. Try again. (simulated)", "checksum"),
        ("A full buffer was not returned. Try again.", "timeout"),
        ("Timed out waiting for PulseIn message. Make sure libgpiod is installed.", "timeout"),
        ("DHT sensor not found, check wiring", "not_found"),
        ("DHT sensor not found, check wiring (simulated)", "not_found"),
        ("Received unplausible data. Try again.", "implausible"),
        ("impossible value 200.0 °C, 50.0 %RH", "implausible"),
        # I2CSensor's, around busio's NACK and the I²C drivers' CRC checks
        (
            "the SHT4x at I²C address 0x44 did not answer ([Errno 121] Remote I/O error)",
            "not_found",
        ),
        (
            "the SHT3x at I²C address 0x44 did not answer ([Errno 110] Connection timed out)",
            "timeout",
        ),
        (
            "the SHT4x at I²C address 0x44 sent a garbled reading (Invalid CRC calculated)",
            "checksum",
        ),
        ("the SHT3x at I²C address 0x45 sent a garbled reading (CRC mismatch)", "checksum"),
        ("the DHT driver returned no value", "other"),
        ("", "other"),
    ],
)
def test_driver_messages_are_classified(message: str, kind: str) -> None:
    assert classify_error(message) == kind


# --- ratios over the window ---------------------------------------------------------


def test_an_empty_window_has_no_ratio_rather_than_a_perfect_one() -> None:
    summary = SensorHealth().summary(0.0)
    assert (summary.attempts, summary.slots) == (0, 0)
    assert summary.attempt_error_ratio is None
    assert summary.error_ratio is None
    assert summary.stuck is False


def test_attempt_and_slot_ratios_and_counts_by_kind() -> None:
    health = SensorHealth()
    t = 0.0
    # Slot 1: a checksum error, then a good retry.
    health.record_attempt(t, "Checksum did not validate. Try again.")
    health.record_attempt(t + 2, None)
    health.record_slot(t + 2, GOOD)
    # Slot 2: every attempt fails.
    health.record_attempt(t + 10, "A full buffer was not returned. Try again.")
    health.record_attempt(t + 12, "DHT sensor not found, check wiring")
    health.record_slot(t + 12, None)
    # Slot 3: fine.
    health.record_attempt(t + 20, None)
    health.record_slot(t + 20, GOOD)

    summary = health.summary(t + 20)
    assert (summary.attempts, summary.failed_attempts) == (5, 3)
    assert summary.attempt_error_ratio == pytest.approx(3 / 5)
    assert (summary.slots, summary.failed_slots) == (3, 1)
    assert summary.error_ratio == pytest.approx(1 / 3)
    assert (summary.checksum_errors, summary.timeout_errors, summary.not_found_errors) == (1, 1, 1)
    assert (summary.implausible_errors, summary.other_errors) == (0, 0)
    assert summary.last_error == "DHT sensor not found, check wiring"


def test_outcomes_older_than_the_window_drop_out() -> None:
    health = SensorHealth(window_s=1800)
    health.record_attempt(0.0, "Checksum did not validate. Try again.")
    health.record_slot(0.0, None)
    for t in range(10, 1801, 10):
        health.record_attempt(float(t), None)
        health.record_slot(float(t), GOOD)

    still_there = health.summary(1800.0)
    assert still_there.failed_attempts == 1
    assert still_there.failed_slots == 1

    gone = health.summary(1800.5)
    assert gone.failed_attempts == 0
    assert gone.checksum_errors == 0
    assert gone.attempt_error_ratio == 0.0
    assert gone.error_ratio == 0.0
    assert gone.attempts == 180
    # The last error text stays: it is what the logs and the health message explain with.
    assert gone.last_error == "Checksum did not validate. Try again."


def test_memory_is_bounded_whatever_the_rate() -> None:
    health = SensorHealth(max_entries=100)
    for i in range(1000):
        health.record_attempt(i * 0.01, None)
        health.record_slot(i * 0.01, GOOD)
    summary = health.summary(10.0)
    assert summary.attempts == 100
    assert summary.slots == 100


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        SensorHealth(window_s=0)
    with pytest.raises(ValueError, match="stuck_after_s"):
        SensorHealth(stuck_after_s=0)


# --- stuck value --------------------------------------------------------------------


def test_identical_readings_for_stuck_after_s_mark_the_sensor_stuck() -> None:
    health = SensorHealth(stuck_after_s=1800)
    for t in range(0, 1800, 10):
        health.record_slot(float(t), GOOD)
    assert not health.stuck
    assert health.unchanged_s == pytest.approx(1790)
    health.record_slot(1800.0, GOOD)
    assert health.stuck
    assert health.summary(1800.0).stuck


def test_a_change_in_either_value_resets_the_stuck_clock() -> None:
    health = SensorHealth(stuck_after_s=100)
    health.record_slot(0.0, GOOD)
    health.record_slot(99.0, GOOD)
    health.record_slot(100.0, SensorReading(19.5, 50.1))  # humidity moved
    assert not health.stuck
    assert health.unchanged_s is None  # only one reading of the new value so far
    health.record_slot(150.0, SensorReading(19.5, 50.1))
    health.record_slot(200.0, SensorReading(19.5, 50.1))
    assert health.stuck


def test_failed_slots_neither_reset_nor_extend_the_stuck_clock() -> None:
    health = SensorHealth(stuck_after_s=100)
    health.record_slot(0.0, GOOD)
    health.record_slot(50.0, None)
    health.record_slot(500.0, None)
    assert not health.stuck  # no reading since t=0 says the value is still the same
    health.record_slot(600.0, GOOD)
    assert health.stuck


def test_the_stuck_detector_can_be_turned_off() -> None:
    health = SensorHealth(stuck_after_s=None)
    health.record_slot(0.0, GOOD)
    health.record_slot(100_000.0, GOOD)
    assert not health.stuck
    assert health.unchanged_s == 100_000.0


# --- the wrapper feeding it ---------------------------------------------------------


class ScriptedSensor:
    min_read_spacing_s = 0.0

    def __init__(self, outcomes: list[SensorReading | str]) -> None:
        self.outcomes = outcomes
        self.closed = False

    def read(self) -> SensorReading:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, str):
            raise SensorReadError(outcome)
        return outcome

    def close(self) -> None:
        self.closed = True


def test_observed_sensor_records_every_attempt_under_the_reader() -> None:
    clock = FakeClock()
    health = SensorHealth()
    sensor = ScriptedSensor(
        [
            "Checksum did not validate. Try again.",
            "Checksum did not validate. Try again.",
            GOOD,
            "DHT sensor not found, check wiring",
            "DHT sensor not found, check wiring",
            "A full buffer was not returned. Try again.",
        ]
    )
    observed = ObservedSensor(sensor, health, clock)
    reader = SensorReader(observed, retries=2, spacing_s=0, stop=threading.Event(), clock=clock)
    for _ in range(2):
        health.record_slot(clock(), reader.read())
        clock.advance(10)

    summary = health.summary(clock())
    assert (summary.attempts, summary.failed_attempts) == (6, 5)
    assert (summary.checksum_errors, summary.not_found_errors, summary.timeout_errors) == (2, 2, 1)
    assert (summary.slots, summary.failed_slots) == (2, 1)
    assert reader.errors == summary.failed_attempts  # the same count, by kind here
    assert observed.min_read_spacing_s == 0.0
    observed.close()
    assert sensor.closed


def test_the_flaky_simulation_shows_its_faults_in_the_health() -> None:
    clock = FakeClock()
    health = SensorHealth(window_s=10_000, stuck_after_s=100)
    sensor = ObservedSensor(SimulatedSensor("flaky", clock=clock, seed=1), health, clock)
    reader = SensorReader(sensor, retries=1, spacing_s=0, stop=threading.Event(), clock=clock)
    stuck_seen = False
    for _ in range(FLAKY_CYCLE_READS):
        health.record_slot(clock(), reader.read())
        stuck_seen = stuck_seen or health.stuck
        clock.advance(10)
    summary = health.summary(clock())
    assert stuck_seen
    assert summary.checksum_errors > 0
    assert summary.not_found_errors > 0
    assert summary.failed_slots > 0
    assert summary.attempt_error_ratio is not None and 0 < summary.attempt_error_ratio < 1


# --- power-cycle policy -------------------------------------------------------------


def test_power_cycle_after_n_failures_then_not_within_the_cooldown() -> None:
    policy = PowerCyclePolicy(after_failures=5, cooldown_s=600)
    assert not policy.due(4, 0.0)
    assert policy.due(5, 0.0)
    policy.record_cycle(0.0)
    assert policy.cycles == 1
    assert not policy.due(6, 10.0)
    assert not policy.due(60, 599.9)
    assert policy.due(60, 600.0)


def test_the_cooldown_holds_across_a_recovery() -> None:
    policy = PowerCyclePolicy(after_failures=2, cooldown_s=600)
    policy.record_cycle(0.0)
    # The sensor came back (failures reset to 0) and hung again soon after.
    assert not policy.due(2, 100.0)
    assert policy.due(2, 600.0)


def test_a_loop_of_failing_slots_cycles_once_per_cooldown() -> None:
    policy = PowerCyclePolicy(after_failures=5, cooldown_s=600)
    cycled_at: list[float] = []
    for failures in range(1, 200):  # a dead sensor, one failed slot every 10 s
        now = failures * 10.0
        if policy.due(failures, now):
            policy.record_cycle(now)
            cycled_at.append(now)
    assert cycled_at == [50.0, 650.0, 1250.0, 1850.0]


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="after_failures"):
        PowerCyclePolicy(after_failures=0)
    with pytest.raises(ValueError, match="cooldown_s"):
        PowerCyclePolicy(cooldown_s=-1)
    with pytest.raises(ValueError, match="cooldown_s"):
        PowerCyclePolicy(cooldown_s=float("nan"))
