"""The retained alert-state payload (`<base>/<room>/alert`): what home automation reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from contract.fields import (
    _int,
    _number,
    _obj,
    _str,
    format_ts,
    parse_ts,
)
from contract.topics import (
    CONTRACT_VERSION,
    TEMPERATURE_RANGE_C,
    ContractError,
    check_name,
)

AlertLevel = Literal["ok", "warning", "alert", "acknowledged", "snoozed"]
ALERT_LEVELS: Final = ("ok", "warning", "alert", "acknowledged", "snoozed")


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One open incident as published in an alert-state message."""

    id: int
    condition: str
    severity: str
    state: str
    since: datetime
    acknowledged_by: str | None = None
    snoozed_until: datetime | None = None  # added later: absent from older hubs' payloads

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "condition": self.condition,
            "severity": self.severity,
            "state": self.state,
            "since": format_ts(self.since),
            "acknowledged_by": self.acknowledged_by,
            "snoozed_until": format_ts(self.snoozed_until) if self.snoozed_until else None,
        }


@dataclass(frozen=True, slots=True)
class AlertStateMessage:
    """The hub's summary of a room's alerts on `<base>/<room>/alert` (QoS 1, retained).

    `state`, `since`, `condition` and `acknowledged_by` are the most urgent open incident's:
    unanswered before answered, then the more severe, then the newest. So `alert` (an
    unanswered cold, hot, no data, offline) or `warning` (an unanswered fast drop, suspect
    sensor, advisory) while anything waits for an answer, `snoozed`/`acknowledged` once all
    is answered, `ok` when nothing is open. `open` lists every open incident in that order.
    Carries no health data: room conditions only.
    """

    room: str
    state: AlertLevel
    since: datetime | None
    condition: str | None
    acknowledged_by: str | None
    open: tuple[AlertEntry, ...]
    temperature_c: float | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "state": self.state,
                "since": format_ts(self.since) if self.since else None,
                "condition": self.condition,
                "acknowledged_by": self.acknowledged_by,
                "temperature_c": self.temperature_c,
                "open": [entry.as_json() for entry in self.open],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> AlertStateMessage:
        data = _obj(payload)
        state = data.get("state")
        if state not in ALERT_LEVELS:
            raise ContractError(f"state must be one of {', '.join(ALERT_LEVELS)}")
        entries = data.get("open")
        if not isinstance(entries, list):
            raise ContractError("open must be a list")
        parsed: list[AlertEntry] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ContractError("open entries must be objects")
            by, until = entry.get("acknowledged_by"), entry.get("snoozed_until")
            parsed.append(
                AlertEntry(
                    id=_int(entry, "id"),
                    condition=_str(entry, "condition"),
                    severity=_str(entry, "severity"),
                    state=_str(entry, "state"),
                    since=parse_ts(entry.get("since"), "open.since"),
                    acknowledged_by=by if isinstance(by, str) else None,
                    snoozed_until=None if until is None else parse_ts(until, "open.snoozed_until"),
                )
            )
        since = data.get("since")
        condition = data.get("condition")
        by = data.get("acknowledged_by")
        temperature = data.get("temperature_c")
        return cls(
            room=check_name("room", _str(data, "room")),
            state=state,
            since=None if since is None else parse_ts(since, "since"),
            condition=condition if isinstance(condition, str) else None,
            acknowledged_by=by if isinstance(by, str) else None,
            open=tuple(parsed),
            temperature_c=None
            if temperature is None
            else _number(data, "temperature_c", TEMPERATURE_RANGE_C),
        )
