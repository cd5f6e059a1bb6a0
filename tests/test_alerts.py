"""The alert lifecycle, as pure decisions over time: one page, repeats on schedule, ack and
snooze that stop them, re-arm on a further drop, escalation, and one "back to normal"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.alerts import AlertError, Incident, Plan, acknowledge, in_quiet_hours, plan, snooze
from hub.conditions import Condition, Finding
from nursery.config import AlertsSettings

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POLICY = AlertsSettings()


def cold(temp: float, room: str = "nursery") -> Finding:
    return Finding(
        room, Condition.COLD, since=T0 - timedelta(minutes=5), value=temp, threshold=16.0
    )


class Room:
    """Drives plan() minute by minute, keeping the open incidents as the hub would."""

    def __init__(self, policy: AlertsSettings = POLICY) -> None:
        self.policy = policy
        self.open: dict[Condition, Incident] = {}
        self.sent: list[tuple[int, str, str]] = []  # (minute, kind, audience)
        self.next_id = 1

    def at(self, minute: float, *findings: Finding, local: datetime | None = None) -> Plan:
        now = T0 + timedelta(minutes=minute)
        result = plan(
            "nursery", self.open, {f.condition: f for f in findings}, self.policy, now, local
        )
        for incident in result.changed:
            if incident.id is None:
                incident = Incident(**{**_fields(incident), "id": self.next_id})
                self.next_id += 1
            if incident.resolved_at is None:
                self.open[incident.condition] = incident
            else:
                self.open.pop(incident.condition, None)
        self.sent += [(int(minute), p.kind, p.audience) for p in result.pushes]
        return result

    def kinds(self) -> list[tuple[int, str]]:
        return [(minute, kind) for minute, kind, _ in self.sent]


def _fields(incident: Incident) -> dict[str, object]:
    return {name: getattr(incident, name) for name in Incident.__slots__}


def test_a_cold_night_pages_once_then_repeats_on_schedule_until_acknowledged() -> None:
    room = Room(AlertsSettings(escalate_after_s=10**6))
    for minute in range(0, 91):
        room.at(minute, cold(15.5))
    assert room.kinds() == [
        (0, "first"),
        (10, "repeat"),
        (20, "repeat"),
        (30, "repeat"),
        (60, "repeat"),
        (90, "repeat"),
    ]


def test_ack_stops_repeats_and_a_further_degree_colder_rearms() -> None:
    room = Room(AlertsSettings(escalate_after_s=10**6))
    room.at(0, cold(15.5))
    incident = room.open[Condition.COLD]
    room.open[Condition.COLD] = acknowledge(incident, "Sam", "dashboard", T0 + timedelta(minutes=2))
    for minute in range(3, 60):
        room.at(minute, cold(15.0))  # colder, but less than a degree below 15.5
    assert room.kinds() == [(0, "first")]
    room.at(60, cold(14.5))  # a full degree colder than when acknowledged
    assert room.kinds()[-1] == (60, "worse")
    assert room.open[Condition.COLD].acked_at is None
    room.at(70, cold(14.5))
    assert room.kinds()[-1] == (70, "repeat")


def test_snooze_holds_repeats_then_reminds() -> None:
    room = Room(AlertsSettings(escalate_after_s=10**6))
    room.at(0, cold(15.5))
    room.open[Condition.COLD] = snooze(
        room.open[Condition.COLD], 30, "Alex", "ntfy", T0 + timedelta(minutes=1)
    )
    assert room.open[Condition.COLD].state(T0 + timedelta(minutes=2)) == "snoozed"
    for minute in range(2, 32):
        room.at(minute, cold(15.5))
    assert room.kinds() == [(0, "first"), (31, "repeat")]
    with pytest.raises(AlertError, match="15, 30, 60"):
        snooze(room.open[Condition.COLD], 45, "Alex", "ntfy", T0)


def test_unacknowledged_alert_escalates_once_to_the_second_caregiver() -> None:
    room = Room()
    for minute in range(0, 40):
        room.at(minute, cold(15.5))
    escalations = [(m, k) for m, k, audience in room.sent if audience == "escalation"]
    assert escalations == [(15, "escalation")]


def test_resolves_with_one_back_to_normal() -> None:
    room = Room()
    room.at(0, cold(15.5))
    room.at(5)
    room.at(6)
    assert room.kinds() == [(0, "first"), (5, "resolved")]
    assert room.open == {}


def test_advisories_wait_for_quiet_hours_to_end_but_alerts_do_not() -> None:
    room = Room(AlertsSettings(quiet_hours="22:00-07:00"))
    night = datetime(2026, 11, 23, 3, 0)
    cool = Finding("nursery", Condition.COOL, since=T0, value=16.8, threshold=17.0)
    room.at(0, cool, local=night)
    assert room.kinds() == []
    room.at(1, cool, cold(15.5), local=night)
    assert room.kinds() == [(1, "first")]
    room.at(2, cool, cold(15.5), local=datetime(2026, 11, 23, 7, 0))
    assert [kind for _, kind in room.kinds()] == ["first", "first"]
    assert room.open[Condition.COOL].held is False


def test_a_more_severe_alert_bypasses_the_rate_limit() -> None:
    room = Room()
    drop = Finding("nursery", Condition.FAST_DROP, since=T0, value=17.5, threshold=2.0)
    first = room.at(0, drop)
    assert first.pushes[0].bypass_rate_limit is True  # nothing else was open
    second = room.at(1, drop, cold(15.8))
    assert second.pushes[0].kind == "first"
    assert second.pushes[0].bypass_rate_limit is True
    third = room.at(2, drop, cold(15.8), Finding("nursery", Condition.HUMIDITY, since=T0, value=35))
    humidity = [p for p in third.pushes if p.incident.condition == Condition.HUMIDITY]
    assert humidity[0].bypass_rate_limit is False


def test_no_data_is_never_resolved_while_the_finding_stays() -> None:
    room = Room(AlertsSettings(escalate_after_s=10**6))
    silent = Finding("nursery", Condition.NO_DATA, since=T0, value=400.0, threshold=300.0)
    for minute in range(0, 120):
        room.at(minute, silent)
    assert "resolved" not in [kind for _, kind in room.kinds()]


def test_cannot_acknowledge_a_resolved_alert() -> None:
    room = Room()
    room.at(0, cold(15.5))
    incident = room.open[Condition.COLD]
    room.at(1)
    done = Incident(**{**_fields(incident), "resolved_at": T0})
    with pytest.raises(AlertError, match="already resolved"):
        acknowledge(done, "Sam", "dashboard", T0)


@pytest.mark.parametrize(
    ("window", "hour", "quiet"),
    [
        ("22:00-07:00", 23, True),
        ("22:00-07:00", 3, True),
        ("22:00-07:00", 7, False),
        ("13:00-15:00", 14, True),
        ("13:00-15:00", 16, False),
        (None, 3, False),
    ],
)
def test_quiet_hours(window: str | None, hour: int, quiet: bool) -> None:
    assert in_quiet_hours(window, datetime(2026, 1, 1, hour, 0)) is quiet
