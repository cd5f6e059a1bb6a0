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
    last seen active. `active_at` (the room's memory of that moment) is updated in place."""
    out = dict(findings)
    for condition, incident in open_incidents.items():
        if condition in out:
            active_at[condition] = now
            continue
        seen_at = active_at.setdefault(condition, now)
        if last_reading is None or last_reading <= seen_at:
            out[condition] = incident.finding()
    return out
