"""The retained alert and room states on MQTT, sent when they change, not on every tick."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from contract.alert_state import AlertStateMessage
from contract.topics import alert_topic
from hub.conditions import Condition, Incident
from hub.monitor.alert_state import room_alert_state
from hub.monitor.room_state import RoomStates
from hub.monitor.rules import RoomRules

Publish = Callable[[str, bytes], None]


class _Message(Protocol):
    def encode(self) -> bytes: ...


def alert_state(
    room: str, rules: RoomRules | None, incidents: Iterable[Incident], now: datetime
) -> AlertStateMessage:
    """The room's retained alert state: see hub.monitor.alert_state."""
    temperature = rules.filtered_temperature if rules else None
    return room_alert_state(room, incidents, temperature, now)


class StatePublisher:
    """Each room's alert state and, with discovery, its room state (`room_states`)."""

    def __init__(
        self, base_topic: str, publish: Publish | None, room_states: RoomStates | None
    ) -> None:
        self._base_topic = base_topic
        self._publish = publish
        self._room_states = room_states
        self._sent: dict[str, tuple[_Message, bytes]] = {}  # by topic: message, payload

    def publish(
        self,
        room: str,
        now: datetime,
        rules: RoomRules | None,
        incidents: Iterable[Incident],
        *,
        conditions: Iterable[Condition],
        sensor_fault: bool,
    ) -> None:
        """Both states of `room`, each only when it differs from the last one sent."""
        state = alert_state(room, rules, incidents, now)
        self._once(alert_topic(self._base_topic, room), state)
        if self._room_states is not None:
            message = self._room_states.message(
                room,
                temperature_c=rules.filtered_temperature if rules else None,
                conditions=conditions,
                sensor_fault=sensor_fault,
                last_heard=rules.last_data_at if rules else None,
            )
            self._once(self._room_states.topic(room), message)

    def forget(self) -> None:
        """After a reconnection: the next states go out whole, even if unchanged."""
        self._sent.clear()
        if self._room_states is not None:
            self._room_states.forget_sent()

    def _once(self, topic: str, message: _Message) -> None:
        # An equal message is not encoded again: most readings change neither state (at a
        # sensor's pace this took publishing from 75 to 52 µs a reading, bench/RESULTS.md).
        last = self._sent.get(topic)
        if self._publish is None or (last is not None and last[0] == message):
            return
        payload = message.encode()
        self._sent[topic] = (message, payload)
        if last is None or last[1] != payload:
            self._publish(topic, payload)
