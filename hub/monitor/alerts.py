"""The alert lifecycle, pure: from the rules' findings to incidents and the pushes they need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Literal

from contract.errors import NurseryError
from hub.conditions import Condition, Finding, Incident, Severity
from hub.config import AlertsSettings

PushKind = Literal["first", "repeat", "worse", "escalation", "resolved"]
Audience = Literal["everyone", "escalation"]
SNOOZE_MINUTES = (15, 30, 60)

# For these conditions a larger value is worse; for the rest a smaller one is.
_HIGHER_IS_WORSE = {Condition.WARM, Condition.HOT, Condition.NO_DATA, Condition.OFFLINE}


class AlertError(NurseryError):
    """An acknowledgement or snooze that cannot apply; the message says why."""


@dataclass(frozen=True, slots=True)
class PushRequest:
    """A push the lifecycle wants sent; delivery decides the channels."""

    kind: PushKind
    incident: Incident
    audience: Audience
    bypass_rate_limit: bool = False
    previous: float | None = None  # a "worse" push: the value when it was answered


@dataclass(frozen=True, slots=True)
class Plan:
    changed: list[Incident]
    pushes: list[PushRequest]


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as the dashboard lists it: the incident and its state at that moment."""

    incident: Incident
    state: str


def in_quiet_hours(quiet_hours: str | None, local_now: datetime) -> bool:
    """`22:00-07:00` style windows in local time; a window may wrap past midnight."""
    if not quiet_hours:
        return False
    start_text, end_text = quiet_hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    now = local_now.time()
    if start <= end:
        return start <= now < end
    return now >= start or now < end


def _worse(condition: Condition, a: float | None, b: float | None) -> float | None:
    """The more extreme of two values for this condition."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if condition in _HIGHER_IS_WORSE else min(a, b)


def _next_repeat_at(incident: Incident, policy: AlertsSettings) -> datetime | None:
    if incident.notified_at is None or incident.severity < Severity.ALERT:
        return None
    if incident.repeats < len(policy.repeat_after_s):
        return incident.notified_at + timedelta(seconds=policy.repeat_after_s[incident.repeats])
    last = incident.last_push_at or incident.notified_at
    return last + timedelta(seconds=policy.repeat_every_s)


def next_due(incident: Incident, policy: AlertsSettings, now: datetime) -> datetime | None:
    """When `plan` may next change this incident with no new finding: its snooze running
    out, its next repeat or its escalation. None when only the rules can change it; a held
    incident waits for the end of quiet hours (`quiet_hours_end`)."""
    if incident.resolved_at is not None or incident.held:
        return None
    if incident.snoozed_until is not None:
        return incident.snoozed_until
    if incident.state(now) != "open":
        return None  # acknowledged: only a further rearm_c worse (a reading) pages again
    due = [_next_repeat_at(incident, policy)]
    if (
        incident.severity == Severity.ALERT
        and incident.escalated_at is None
        and incident.notified_at is not None
    ):
        due.append(incident.notified_at + timedelta(seconds=policy.escalate_after_s))
    return min((d for d in due if d is not None), default=None)


def quiet_hours_end(quiet_hours: str | None, local_now: datetime) -> datetime | None:
    """When the quiet-hours window `local_now` is in ends, in local_now's time zone (a
    fixed offset: on the night the clocks change it may be an hour out); None outside."""
    if quiet_hours is None or not in_quiet_hours(quiet_hours, local_now):
        return None
    end = time.fromisoformat(quiet_hours.split("-")[1])
    candidate = datetime.combine(local_now.date(), end, tzinfo=local_now.tzinfo)
    return candidate if candidate > local_now else candidate + timedelta(days=1)


def _rearmed(incident: Incident, finding: Finding, rearm_c: float) -> bool:
    """A further `rearm_c` colder (or hotter) than when someone acknowledged or snoozed."""
    if incident.rearm_from is None or finding.value is None:
        return False
    if incident.condition in (Condition.NO_DATA, Condition.OFFLINE):
        return False  # more silence is not news; repeats resume when the snooze ends
    if incident.condition in _HIGHER_IS_WORSE:
        return finding.value >= incident.rearm_from + rearm_c
    return finding.value <= incident.rearm_from - rearm_c


def plan(
    room: str,
    open_incidents: dict[Condition, Incident],
    findings: dict[Condition, Finding],
    policy: AlertsSettings,
    now: datetime,
    local_now: datetime | None = None,
) -> Plan:
    """Decide what changes for one room, and which pushes that needs."""
    quiet = in_quiet_hours(policy.quiet_hours, local_now or now)
    changed: list[Incident] = []
    pushes: list[PushRequest] = []
    notified_severity = max(
        (i.severity for i in open_incidents.values() if i.notified_at is not None),
        default=Severity.ADVISORY - 1,
    )

    for condition, finding in findings.items():
        incident = open_incidents.get(condition)
        if incident is None:
            incident = Incident(
                id=None,
                room=room,
                condition=condition,
                opened_at=now,
                since=finding.since,
                value=finding.value,
                threshold=finding.threshold,
                worst=_worse(condition, finding.worst, finding.value),
                minutes_to_cold=finding.minutes_to_cold,
            )
            if quiet and incident.severity == Severity.ADVISORY:
                changed.append(replace(incident, held=True))
                continue
            incident = replace(incident, notified_at=now, last_push_at=now)
            changed.append(incident)
            upgrade = incident.severity > notified_severity
            pushes.append(PushRequest("first", incident, "everyone", bypass_rate_limit=upgrade))
            continue

        updated = replace(
            incident,
            value=finding.value,
            threshold=finding.threshold,
            worst=_worse(
                condition, incident.worst, _worse(condition, finding.worst, finding.value)
            ),
            minutes_to_cold=finding.minutes_to_cold,
        )
        if updated.held and not quiet:
            updated = replace(updated, held=False, notified_at=now, last_push_at=now)
            pushes.append(PushRequest("first", updated, "everyone"))
        elif _rearmed(updated, finding, policy.rearm_c):
            updated = replace(
                updated,
                acked_at=None,
                acked_by=None,
                acked_via=None,
                rearm_from=None,
                snoozed_until=None,
                notified_at=now,
                last_push_at=now,
                repeats=0,
                escalated_at=None,
            )
            pushes.append(PushRequest("worse", updated, "everyone", previous=incident.rearm_from))
        elif updated.snoozed_until is not None and updated.snoozed_until <= now:
            # The snooze ran out and the condition is still there: remind now.
            updated = replace(
                updated,
                snoozed_until=None,
                acked_by=None,
                acked_via=None,
                rearm_from=None,
                notified_at=now,
                last_push_at=now,
                repeats=0,
                escalated_at=None,
            )
            pushes.append(PushRequest("repeat", updated, "everyone"))
        elif updated.state(now) == "open":
            due = _next_repeat_at(updated, policy)
            if due is not None and now >= due:
                updated = replace(updated, repeats=updated.repeats + 1, last_push_at=now)
                pushes.append(PushRequest("repeat", updated, "everyone"))
            if (
                updated.severity == Severity.ALERT
                and updated.escalated_at is None
                and updated.notified_at is not None
                and now - updated.notified_at >= timedelta(seconds=policy.escalate_after_s)
            ):
                updated = replace(updated, escalated_at=now)
                pushes.append(PushRequest("escalation", updated, "escalation"))
        if updated != incident:
            changed.append(updated)

    for condition, incident in open_incidents.items():
        if condition in findings:
            continue
        resolved = replace(incident, resolved_at=now)
        changed.append(resolved)
        if resolved.notified_at is not None:
            pushes.append(PushRequest("resolved", resolved, "everyone"))
    return Plan(changed, pushes)


def acknowledge(incident: Incident, by: str, via: str, now: datetime) -> Incident:
    """Stop repeats for this incident; a further rearm_c worse pages again."""
    if incident.resolved_at is not None:
        raise AlertError(f"alert {incident.id} is already resolved")
    return replace(
        incident,
        acked_at=now,
        acked_by=by,
        acked_via=via,
        snoozed_until=None,
        rearm_from=incident.worst if incident.worst is not None else incident.value,
    )


def snooze(incident: Incident, minutes: int, by: str, via: str, now: datetime) -> Incident:
    """Quiet for 15, 30 or 60 minutes, then remind again if nothing changed."""
    if minutes not in SNOOZE_MINUTES:
        raise AlertError(f"snooze must be one of {', '.join(map(str, SNOOZE_MINUTES))} minutes")
    if incident.resolved_at is not None:
        raise AlertError(f"alert {incident.id} is already resolved")
    return replace(
        incident,
        snoozed_until=now + timedelta(minutes=minutes),
        acked_by=by,
        acked_via=via,
        rearm_from=incident.worst if incident.worst is not None else incident.value,
    )


def answered(incident: Incident, now: datetime) -> bool:
    """Someone said "I'm on it" (acknowledged, or snoozed and the snooze still runs)."""
    return incident.state(now) in ("acknowledged", "snoozed")


def most_urgent_first(incidents: Iterable[Incident], now: datetime) -> list[Incident]:
    """Unanswered before answered, then the more severe, then the newest: the order a parent
    (and a home-automation button) should meet a room's open alerts in."""
    return sorted(
        incidents,
        key=lambda i: (not answered(i, now), i.severity, i.opened_at),
        reverse=True,
    )


def room_answer(
    incidents: Iterable[Incident], action: Literal["ack", "snooze"], now: datetime
) -> list[Incident]:
    """The open alerts one "I'm on it" for the whole room answers (a Home Assistant button,
    a room card), most urgent first.

    Every unanswered alert, and none already answered: an answer is never said twice, and
    a snooze someone chose stays a snooze. Only when nothing unanswered is left does an
    acknowledgement turn the room's snoozes into acknowledgements (there is nothing else it
    could mean); a snooze then changes nothing. Held (quiet-hours) and resolved incidents
    are never answered: nobody has been told of them yet, or they are over.
    """
    shown = [i for i in incidents if not i.held and i.resolved_at is None]
    unanswered = [i for i in shown if not answered(i, now)]
    if unanswered:
        return most_urgent_first(unanswered, now)
    if action == "ack":
        return most_urgent_first((i for i in shown if i.state(now) == "snoozed"), now)
    return []


def answer_all(
    incidents: Iterable[Incident],
    action: Literal["ack", "snooze"],
    minutes: int,
    by: str,
    via: str,
    now: datetime,
) -> list[Incident]:
    """The room's alerts `room_answer` picks, acknowledged or snoozed for `minutes`."""
    targets = room_answer(incidents, action, now)
    if action == "ack":
        return [acknowledge(i, by, via, now) for i in targets]
    return [snooze(i, minutes, by, via, now) for i in targets]
