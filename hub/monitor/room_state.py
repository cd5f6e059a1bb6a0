"""The room state the monitor publishes beside the alert state (`<base>/<room>/state`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from contract.messages import HealthMessage
from hub.comfort import RoomStateMessage, paced, readings_waiting
from hub.conditions import Condition
from hub.discovery import Discovery
from hub.store.database import Store


class RoomStates:
    """Per room: health, backlog and the last state sent."""

    def __init__(self, discovery: Discovery, store: Store) -> None:
        self._discovery = discovery
        self._store = store
        self._health: dict[str, HealthMessage] = {}
        self._waiting: dict[str, int] = {}
        self._unsettled: dict[str, datetime] = {}  # a count to publish by then (on_health)
        self._sent: dict[str, RoomStateMessage] = {}

    def topic(self, room: str) -> str:
        return self._discovery.state_topic(room)

    def restore(self, room: str, health: HealthMessage) -> None:
        self._health[room] = health
        self._count(room)

    def on_health(self, health: HealthMessage, now: datetime, settle: timedelta) -> bool:
        """Take a health message; True when the state should go out now.

        Not while readings seem to wait: the reading just sent may share this message's
        ingest batch, stored only after it. `on_readings` for that batch counts again, so
        Home Assistant never sees a 1 that is not there; a real backlog goes out then, or
        once `settle` has passed (`due`).
        """
        self._health[health.room] = health
        self._count(health.room)
        if not self._waiting[health.room]:
            return True
        self._unsettled[health.room] = now + settle
        return False

    def on_readings(self, room: str) -> None:
        """New readings of `room` are stored: while some waited, these may be them."""
        if self._waiting.get(room):
            self._count(room)

    def due(self, room: str) -> datetime | None:
        """When a count held back by on_health must go out, if one is."""
        return self._unsettled.get(room)

    def _count(self, room: str) -> None:
        health = self._health[room]
        self._waiting[room] = readings_waiting(
            health.outbox_pending, health.floor, self._store.receipt(room)
        )

    def message(
        self,
        room: str,
        *,
        temperature_c: float | None,
        conditions: Iterable[Condition],
        sensor_fault: bool,
        last_heard: datetime | None,
    ) -> RoomStateMessage:
        """The state to publish now, taken as sent."""
        health = self._health.get(room)
        state = paced(
            self._sent.get(room),
            self._discovery.derive_room_state(
                room,
                temperature_c=temperature_c,
                conditions=conditions,
                sensor_fault=sensor_fault,
                last_heard=last_heard,
                outbox_pending=health.outbox_pending if health else None,
                readings_waiting=self._waiting.get(room),
            ),
        )
        self._sent[room] = state
        self._unsettled.pop(room, None)
        return state

    def forget_sent(self) -> None:
        """After a reconnection: the next message is whole, with a fresh last_heard."""
        self._sent.clear()
