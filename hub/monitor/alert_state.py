"""A room's alert state as home automation sees it (`<base>/<room>/alert`, retained); pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contract.alert_state import AlertEntry, AlertLevel, AlertStateMessage
from hub.conditions import Incident, Severity
from hub.monitor.alerts import answered, most_urgent_first


def _level(incident: Incident, now: datetime) -> AlertLevel:
    state = incident.state(now)
    if state == "snoozed":
        return "snoozed"
    if answered(incident, now):
        return "acknowledged"
    return "alert" if incident.severity == Severity.ALERT else "warning"


def room_alert_state(
    room: str, incidents: Iterable[Incident], temperature_c: float | None, now: datetime
) -> AlertStateMessage:
    """The message for `room`: its most urgent open incident on top, every one listed.

    Incidents held for quiet hours are left out: nobody has been told of them yet.
    """
    shown = most_urgent_first((i for i in incidents if not i.held and i.resolved_at is None), now)
    if not shown:
        return AlertStateMessage(room, "ok", None, None, None, (), temperature_c)
    top = shown[0]
    entries = tuple(
        AlertEntry(
            id=i.id or 0,
            condition=i.condition.value,
            severity=i.severity.name.lower(),
            state=i.state(now),
            since=i.since,
            acknowledged_by=i.acked_by if answered(i, now) else None,
            snoozed_until=i.snoozed_until if i.state(now) == "snoozed" else None,
        )
        for i in shown
    )
    return AlertStateMessage(
        room,
        _level(top, now),
        top.since,
        top.condition.value,
        entries[0].acknowledged_by,
        entries,
        temperature_c,
    )
