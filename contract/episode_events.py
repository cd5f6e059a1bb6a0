"""The episode button's events and the hub's receipts for them, on MQTT."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from contract.fields import (
    _obj,
    _str,
    format_ts,
    parse_ts,
)
from contract.topics import (
    CONTRACT_VERSION,
    ContractError,
    check_name,
)

EpisodeAction = Literal["start", "stop", "now"]
EPISODE_ACTIONS: Final[tuple[EpisodeAction, ...]] = ("start", "stop", "now")


def _event_id(data: dict[str, Any]) -> str:
    value = _str(data, "event_id")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ContractError("event_id must be a UUID") from exc


@dataclass(frozen=True, slots=True)
class EpisodeEventMessage:
    """A press of the Pi's episode button, on `<base>/<room>/episode` (QoS 1, not retained).

    `start` begins a timed episode, `stop` ends the room's running one, `now` logs an
    untimed one. Only the action and its time cross MQTT; what the parent writes about an
    episode stays in the hub. The firmware re-sends an event until the hub's receipt names
    its `event_id`, and the hub stores each event id once.
    """

    room: str
    event_id: str
    action: EpisodeAction
    ts: datetime

    def __post_init__(self) -> None:
        check_name("room", self.room)
        object.__setattr__(self, "event_id", _event_id({"event_id": self.event_id}))
        if self.action not in EPISODE_ACTIONS:
            raise ContractError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        if self.ts.tzinfo is None:
            raise ContractError("ts must be timezone-aware")

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "event_id": self.event_id,
                "action": self.action,
                "ts": format_ts(self.ts),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> EpisodeEventMessage:
        data = _obj(payload)
        action = data.get("action")
        if action not in EPISODE_ACTIONS:
            raise ContractError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        return cls(
            room=_str(data, "room"),
            event_id=_str(data, "event_id"),
            action=action,
            ts=parse_ts(data.get("ts")),
        )


@dataclass(frozen=True, slots=True)
class EpisodeStoredMessage:
    """The hub's receipt on `<base>/<room>/episode/stored` (QoS 1, not retained): the
    event with this id is stored (or was already), so the firmware drops it."""

    room: str
    event_id: str

    def encode(self) -> bytes:
        return json.dumps(
            {"v": CONTRACT_VERSION, "room": self.room, "event_id": self.event_id},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> EpisodeStoredMessage:
        data = _obj(payload)
        return cls(room=check_name("room", _str(data, "room")), event_id=_event_id(data))


def new_event_id() -> str:
    """A fresh id for one episode-button event."""
    return str(uuid.uuid4())
