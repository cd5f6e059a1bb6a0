"""Which open alerts stay open: only a fresh reading may end one, never silence or a restart.
Shared by the live monitor and the replay, so both close alerts at the same moment."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime

from hub.conditions import Condition, Finding, Incident


def confirmed(
    findings: Mapping[Condition, Finding],
    open_incidents: Mapping[Condition, Incident],
    last_reading: datetime | None,
    active_at: MutableMapping[Condition, datetime],
    now: datetime,
) -> dict[Condition, Finding]:
    """The rules' findings, plus every open incident no reading has spoken on since it was
    last seen active. `active_at` (the room's memory of that moment) is updated in place,
    and holds only conditions active or open now: an alert that opens is remembered from
    the finding that opened it, never from an earlier alert of its kind."""
    out = dict(findings)
    for condition in list(active_at):
        if condition not in out and condition not in open_incidents:
            del active_at[condition]
    for condition in out:
        active_at[condition] = now
    for condition, incident in open_incidents.items():
        if condition in out:
            continue
        seen_at = active_at.setdefault(condition, now)
        if last_reading is None or last_reading <= seen_at:
            out[condition] = incident.finding()
    return out
