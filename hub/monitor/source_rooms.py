"""Rooms fed by other systems (hub.sources): each one's silence limit, and its battery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from hub.conditions import Condition, Finding, Incident
from hub.monitor.policy import Policy
from hub.sources.settings import SourceSettings


class SourceRooms:
    """The rules' policy per room (a sleepy sensor's stale_after_s) and the batteries
    at or below their limit, for the LOW_BATTERY advisory."""

    def __init__(self, sources: Sequence[SourceSettings], policy: Policy) -> None:
        self._sources = {source.room: source for source in sources}
        self._low: dict[str, tuple[float, datetime]] = {}  # room → (percent, low since)
        self.use(policy)

    def use(self, policy: Policy) -> None:
        """The household's policy, with each source room's own silence limit."""
        self._base = policy
        self._policies = {
            room: replace(policy, stale_after_s=source.stale_s)
            for room, source in self._sources.items()
        }

    def policy(self, room: str) -> Policy:
        return self._policies.get(room, self._base)

    def battery(self, room: str, percent: float, at: datetime) -> None:
        source = self._sources.get(room)
        if source is None:
            return
        if percent <= source.battery_low_pct:
            since = self._low[room][1] if room in self._low else at
            self._low[room] = (percent, since)
        else:
            self._low.pop(room, None)

    def restore(self, incident: Incident) -> None:
        """An open battery advisory from before a restart: still low until it says not."""
        if incident.condition == Condition.LOW_BATTERY and incident.value is not None:
            self._low[incident.room] = (incident.value, incident.since)

    def with_battery(self, room: str, found: dict[Condition, Finding]) -> dict[Condition, Finding]:
        """The rules' findings plus LOW_BATTERY while the battery is low."""
        low = self._low.get(room)
        if low is None:
            return found
        source = self._sources[room]
        finding = Finding(room, Condition.LOW_BATTERY, low[1], low[0], source.battery_low_pct)
        return {**found, Condition.LOW_BATTERY: finding}
