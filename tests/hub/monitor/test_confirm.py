"""Which open alerts stay open (hub/monitor/confirm.py), shared by the hub and the replay."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.conditions import Condition, Finding, Incident
from hub.monitor.confirm import confirmed

T0 = datetime(2026, 1, 10, 1, tzinfo=UTC)
COLD = Finding("nursery", Condition.COLD, T0, value=15.0, threshold=16.0)


def test_the_look_back_remembers_only_conditions_active_or_open_now() -> None:
    """A new alert is remembered from the finding that opened it, never from an earlier
    one of its kind, so a replay begun later stands exactly alike (hub/replay/parts.py)."""
    memory: dict[Condition, datetime] = {}
    confirmed({Condition.COLD: COLD}, {}, T0, memory, T0)
    assert memory == {Condition.COLD: T0}
    later = T0.replace(hour=2)
    confirmed({}, {}, later, memory, later)
    assert memory == {}


def test_an_open_alert_stays_until_a_reading_speaks_after_it_was_last_seen() -> None:
    incident = Incident(1, "nursery", Condition.COLD, T0, T0)
    memory: dict[Condition, datetime] = {}
    tick = T0.replace(minute=5)
    kept = confirmed({}, {Condition.COLD: incident}, T0, memory, tick)  # no reading since
    assert Condition.COLD in kept
    reading = T0.replace(minute=6)
    assert confirmed({}, {Condition.COLD: incident}, reading, memory, reading) == {}


def test_a_silence_ends_with_the_first_fresh_reading_after_it() -> None:
    """The no-data alert was seen active when it opened; the reading that follows the
    silence speaks on it, so it clears then, not a reading later."""
    silent = Finding("nursery", Condition.NO_DATA, T0, value=130.0, threshold=120.0)
    memory: dict[Condition, datetime] = {}
    opened = T0.replace(minute=2)
    confirmed({Condition.NO_DATA: silent}, {}, T0, memory, opened)
    incident = Incident(1, "nursery", Condition.NO_DATA, opened, T0)
    back = T0.replace(minute=4)
    assert confirmed({}, {Condition.NO_DATA: incident}, back, memory, back) == {}
