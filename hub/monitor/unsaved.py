"""Alerts a full or read-only disk refused to save: logged once a room, while the save
alarm (hub.monitor.save_alarm) tells the parents."""

from __future__ import annotations

import logging
from datetime import datetime

from hub.store.disk_health import SaveHealth

log = logging.getLogger("nursery.hub.monitor")


class UnsavedAlerts:
    """Which rooms' alert changes wait for the disk; `save_health` is the hub's, when wired."""

    def __init__(self) -> None:
        self.save_health: SaveHealth | None = None
        self._since: dict[str, datetime] = {}

    def refused(self, room: str, exc: Exception, now: datetime) -> bool:
        """True when the disk refused the save (logged at its first refusal for the room);
        False when `exc` is something else, for the caller to raise."""
        if self.save_health is None or not self.save_health.check(exc):
            return False
        if self._since.setdefault(room, now) == now:
            log.error("cannot save the alerts of %s (%s); they wait for the disk", room, exc)
        return True

    def saved(self, room: str) -> None:
        self._since.pop(room, None)
