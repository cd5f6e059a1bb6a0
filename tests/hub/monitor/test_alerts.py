"""The alert lifecycle, as pure decisions over time: one page, repeats on schedule, ack and
snooze that stop them, re-arm on a further drop, escalation, and one "back to normal"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contract.alert_state import AlertStateMessage
from hub.conditions import Condition, Finding, Incident
from hub.config import AlertsSettings
from hub.monitor.alert_state import room_alert_state
from hub.monitor.alerts import (
    AlertError,
    Plan,
    acknowledge,
    answered,
    in_quiet_hours,
    most_urgent_first,
    plan,
    room_answer,
    snooze,
)

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
                incident = replace(incident, id=self.next_id)
                self.next_id += 1
            if incident.resolved_at is None:
                self.open[incident.condition] = incident
            else:
                self.open.pop(incident.condition, None)
        self.sent += [(int(minute), p.kind, p.audience) for p in result.pushes]
        return result

    def kinds(self) -> list[tuple[int, str]]:
        return [(minute, kind) for minute, kind, _ in self.sent]


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
    done = replace(incident, resolved_at=T0)
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


# --- one answer for a room, and the order a room's alerts are shown in ---------------------


def incident(id: int, condition: Condition, opened_min: float, **answer: object) -> Incident:
    opened = T0 + timedelta(minutes=opened_min)
    fields: dict[str, object] = {"notified_at": opened, **answer}
    return Incident(id, "nursery", condition, opened, opened, **fields)  # type: ignore[arg-type]


NOW = T0 + timedelta(minutes=30)
SNOOZED = {"snoozed_until": NOW + timedelta(minutes=20), "acked_by": "Sam", "acked_via": "mqtt"}
ACKED = {"acked_at": NOW, "acked_by": "Sam", "acked_via": "web"}


def test_the_unanswered_come_first_then_the_more_severe_then_the_newest() -> None:
    snoozed_cold = incident(1, Condition.COLD, 0, **SNOOZED)
    offline = incident(2, Condition.OFFLINE, 20)
    drop = incident(3, Condition.FAST_DROP, 25)
    no_data = incident(4, Condition.NO_DATA, 10)
    acked_hot = incident(5, Condition.HOT, 28, **ACKED)
    order = most_urgent_first([snoozed_cold, offline, drop, no_data, acked_hot], NOW)
    assert [i.id for i in order] == [2, 4, 3, 5, 1]


def test_a_snooze_that_ran_out_counts_as_unanswered() -> None:
    ran_out = incident(1, Condition.COLD, 0, **{**SNOOZED, "snoozed_until": NOW})
    assert not answered(ran_out, NOW)
    assert room_answer([ran_out], "snooze", NOW) == [ran_out]


def test_a_room_answer_takes_every_unanswered_alert_and_leaves_the_answered_alone() -> None:
    snoozed_cold = incident(1, Condition.COLD, 0, **SNOOZED)
    offline = incident(2, Condition.OFFLINE, 20)
    drop = incident(3, Condition.FAST_DROP, 25)
    for action in ("ack", "snooze"):
        assert room_answer([snoozed_cold, offline, drop], action, NOW) == [offline, drop]


def test_ack_turns_a_snooze_into_an_ack_only_when_nothing_else_waits() -> None:
    snoozed_cold = incident(1, Condition.COLD, 0, **SNOOZED)
    acked_drop = incident(2, Condition.FAST_DROP, 10, **ACKED)
    assert room_answer([snoozed_cold, acked_drop], "ack", NOW) == [snoozed_cold]
    assert room_answer([snoozed_cold, acked_drop], "snooze", NOW) == []
    assert room_answer([acked_drop], "ack", NOW) == []


def test_a_room_answer_never_touches_held_or_resolved_alerts() -> None:
    held = incident(1, Condition.HUMIDITY, 0, held=True, notified_at=None)
    over = incident(2, Condition.COLD, 5, resolved_at=NOW)
    assert room_answer([held, over], "ack", NOW) == []


def test_the_alert_state_leads_with_the_unanswered_offline_alert_over_a_snoozed_cold() -> None:
    snoozed_cold = incident(1, Condition.COLD, 0, **SNOOZED)
    offline = incident(2, Condition.OFFLINE, 20)
    state = room_alert_state("nursery", [snoozed_cold, offline], 15.2, NOW)
    assert (state.state, state.condition, state.acknowledged_by) == ("alert", "offline", None)
    assert state.since == offline.since
    assert [(e.condition, e.state, e.snoozed_until) for e in state.open] == [
        ("offline", "open", None),
        ("cold", "snoozed", NOW + timedelta(minutes=20)),
    ]
    assert state.open[1].acknowledged_by == "Sam"
    assert AlertStateMessage.decode(state.encode()) == state, "snoozed_until round-trips"
    answered_all = room_alert_state(
        "nursery", [snoozed_cold, incident(2, Condition.OFFLINE, 20, **ACKED)], 15.2, NOW
    )
    assert (answered_all.state, answered_all.condition) == ("acknowledged", "offline")
    only_snoozed = room_alert_state("nursery", [snoozed_cold], 15.2, NOW)
    assert (only_snoozed.state, only_snoozed.acknowledged_by) == ("snoozed", "Sam")
    assert room_alert_state("nursery", [], 18.0, NOW).state == "ok"
