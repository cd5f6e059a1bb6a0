"""The replay: the live monitor's rules, confirmation and alert lifecycle, fed the recorded
readings with the hub's times they arrived at, ticked where the hub's ticker would tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Final

from hub.conditions import SEVERITY, Condition, Finding, Incident, Severity
from hub.config import AlertsSettings
from hub.monitor.alerts import PushKind, PushRequest, plan
from hub.monitor.confirm import confirmed
from hub.monitor.paging import compose
from hub.monitor.rules import Policy, ReadingSeen, RoomRules, step
from hub.monitor.schedule import room_due
from hub.preferences import Unit
from mqttlink.rules_settings import RulesSettings

# How far ahead the replay looks for the next moment time alone changes a room: further
# than any repeat, escalation or quiet hours; the hub's ticker wakes more often, for the
# watchdog and the silence count on MQTT, which change no alert.
_HORIZON_S: Final = 400 * 86400.0


@dataclass(frozen=True, slots=True)
class SentPush:
    """One push the alert lifecycle asked for, with the words the phone would have shown."""

    kind: PushKind
    at: datetime
    audience: str
    title: str
    body: str


@dataclass(slots=True)
class ReplayedAlert:
    """One alert from opening to resolving (None: still open when the recording ends)."""

    number: int
    room: str
    condition: Condition
    opened_at: datetime
    since: datetime
    resolved_at: datetime | None = None
    held: bool = False  # opened in quiet hours and never told (an advisory)
    worst: float | None = None
    pushes: list[SentPush] = field(default_factory=list)

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.condition]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A replay between two readings, comparable with another replay of the same file that
    began elsewhere: equal `rooms` mean both go on exactly alike. Alert numbers are left out
    of `rooms` (each replay counts its own) and kept beside it to join the two."""

    readings: int
    alerts: int  # how many had opened
    open: Mapping[tuple[str, Condition], int]  # the number of each open alert
    pushes: Mapping[int, int]  # pushes each open alert had sent
    rooms: Mapping[str, tuple[object, ...]]


@dataclass(slots=True)
class _Room:
    rules: RoomRules
    findings: dict[Condition, Finding] = field(default_factory=dict)
    open: dict[Condition, Incident] = field(default_factory=dict)
    last_reading: datetime | None = None
    active_at: dict[Condition, datetime] = field(default_factory=dict)
    due: datetime | None = None


class Replay:
    """Feed readings in the order they arrived (`reading`), then `finish`; `alerts` holds
    every alert the live hub would have raised, in the order they opened."""

    def __init__(
        self,
        rules: RulesSettings,
        alerts: AlertsSettings,
        *,
        unit: Unit = "C",
        sensor: str | None = None,
        local_tz: tzinfo | None = None,
    ) -> None:
        self.rules = rules
        self.alerts_settings = alerts
        self.policy = Policy.from_settings(rules)
        self._unit: Unit = unit
        self._sensor = sensor
        self._tz = local_tz
        self._rooms: dict[str, _Room] = {}
        self._by_number: dict[int, ReplayedAlert] = {}
        self.alerts: list[ReplayedAlert] = []
        self.readings = 0
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.joined = 0  # parts replayed elsewhere and joined on (hub/replay/parts.py)
        self._soonest: datetime | None = None  # the earliest room's due

    def reading(self, room: str, event: ReadingSeen) -> None:
        """One reading, as ingest hands it to the monitor: stepped at its arrival time."""
        at = event.received_at
        if self.last_at is not None and at < self.last_at:
            raise ValueError(
                f"readings out of order: one arrived at {at.isoformat()} after one at "
                f"{self.last_at.isoformat()}"
            )
        self._advance(at, inclusive=False)  # one due now is decided with the reading
        state = self._rooms.get(room)
        if state is None:
            state = self._rooms[room] = _Room(RoomRules.empty(room, at))
        state.rules, state.findings = step(state.rules, event, self.policy, at)
        state.last_reading = at
        self.readings += 1
        self.first_at = self.first_at or at
        self.last_at = at
        if state.findings.keys() != state.open.keys() or state.due is None or state.due <= at:
            self._apply(room, state, at)
        # Else the lifecycle has nothing to decide: the same alerts are open, no repeat is
        # due, and the values it would copy are read afresh when a push is next composed.

    def checkpoint(self) -> Checkpoint:
        """Where this replay stands now (between two readings), to compare and join."""
        numbers = {
            (name, condition): incident.id or 0
            for name, state in self._rooms.items()
            for condition, incident in state.open.items()
        }
        return Checkpoint(
            self.readings,
            len(self.alerts),
            numbers,
            {n: len(self._by_number[n].pushes) for n in numbers.values()},
            {name: _comparable(state) for name, state in self._rooms.items()},
        )

    def join(self, mine: Checkpoint, later: Replay, theirs: Checkpoint) -> Replay:
        """`later`, which replayed the rest of the file from a fresh start, carried on from
        this replay: both stood exactly alike at `mine` (this replay, now) and `theirs`. Its
        alerts from before `theirs` are this replay's own, already counted here; those open
        then keep this replay's numbers and pushes; those it opened later are numbered on."""
        if mine.rooms != theirs.rooms or mine.readings != self.readings:
            raise ValueError("the replays do not stand alike here: they cannot be joined")
        renumber = {theirs.open[key]: number for key, number in mine.open.items()}
        for their_number, my_number in renumber.items():
            went_on, kept = later._by_number[their_number], self._by_number[my_number]
            kept.pushes.extend(went_on.pushes[theirs.pushes[their_number] :])
            kept.held, kept.worst = went_on.held, went_on.worst
            kept.resolved_at = went_on.resolved_at
        alerts = self.alerts
        for opened in later.alerts[theirs.alerts :]:
            renumber[opened.number] = opened.number = len(alerts) + 1
            alerts.append(opened)
        for state in later._rooms.values():
            state.open = {c: replace(i, id=renumber[i.id or 0]) for c, i in state.open.items()}
        later.alerts, later._by_number = alerts, {a.number: a for a in alerts}
        later.readings = self.readings + later.readings - theirs.readings
        later.first_at = self.first_at
        later.joined = self.joined + 1
        return later

    def finish(self, until: datetime | None = None) -> list[ReplayedAlert]:
        """Run time on to `until` (default: the last reading): repeats and escalations due
        by then are sent; an alert still open stays open."""
        end = until or self.last_at
        if end is not None:
            self._advance(end, inclusive=True)
            self.last_at = max(self.last_at or end, end)
        return self.alerts

    # --- the monitor's steps --------------------------------------------------------

    def _advance(self, until: datetime, *, inclusive: bool) -> None:
        """Tick each room at every moment time alone changes it, up to `until`. A repeat
        due at the very moment a reading arrives is left to the reading's decision and
        carries its value: on the hub the ticker and ingest race at that instant, and
        the recorded-nights test drives the hub the same way."""
        while True:
            soonest = self._soonest  # most readings find nothing due: one comparison
            if soonest is None or (soonest > until if inclusive else soonest >= until):
                return
            due = [
                (s.due, name)
                for name, s in self._rooms.items()
                if s.due and (s.due <= until if inclusive else s.due < until)
            ]
            if not due:
                return
            at, name = min(due)
            state = self._rooms[name]
            state.rules, state.findings = step(state.rules, None, self.policy, at)
            self._apply(name, state, at)

    def _apply(self, room: str, state: _Room, now: datetime) -> None:
        local = now.astimezone(self._tz)
        found = confirmed(state.findings, state.open, state.last_reading, state.active_at, now)
        decided = plan(room, state.open, found, self.alerts_settings, now, local)
        saved: dict[Condition, Incident] = {}
        for incident in decided.changed:
            incident = self._record(incident)
            saved[incident.condition] = incident
            if incident.resolved_at is None:
                state.open[incident.condition] = incident
            else:
                state.open.pop(incident.condition, None)
        for push in decided.pushes:
            self._send(push, saved.get(push.incident.condition, push.incident), state, now)
        state.due = room_due(
            now,
            state.rules,
            self.policy,
            self.alerts_settings,
            incidents=state.open.values(),
            silent=False,
            held_back=None,
            horizon_s=_HORIZON_S,
        )
        self._soonest = min((s.due for s in self._rooms.values() if s.due), default=None)

    def _record(self, incident: Incident) -> Incident:
        if incident.id is None:
            incident = replace(incident, id=len(self.alerts) + 1)
            alert = ReplayedAlert(
                incident.id or 0,
                incident.room,
                incident.condition,
                incident.opened_at,
                incident.since,
            )
            self.alerts.append(alert)
            self._by_number[alert.number] = alert
        alert = self._by_number[incident.id or 0]
        alert.held = incident.held and incident.notified_at is None
        alert.worst = incident.worst
        alert.resolved_at = incident.resolved_at
        return incident

    def _send(self, push: PushRequest, incident: Incident, state: _Room, now: datetime) -> None:
        message, _ = compose(
            push,
            incident,
            now,
            self.rules,
            self._unit,
            sensor=self._sensor,
            temperature_c=state.rules.filtered_temperature,
            signer=None,
        )
        self._by_number[incident.id or 0].pushes.append(
            SentPush(push.kind, now, push.audience, message.title, message.body)
        )


def _comparable(state: _Room) -> tuple[object, ...]:
    """Everything of a room's replay that decides what comes next. Left out: alert numbers
    (each replay counts its own), when the room was first watched (once a reading came),
    and the times of the last look (`due`, the values of `active_at`), which depend on
    where a replay began: an earlier look than needed finds nothing due and looks again;
    an alert leaves the findings only on a reading, which ends it whenever it last looked."""
    rules = state.rules
    if rules.last_data_at is not None:
        rules = replace(rules, watching_since=None)
    return (
        rules,
        dict(state.findings),  # a copy: the room's own dicts change as the replay goes on
        {c: replace(i, id=None) for c, i in state.open.items()},
        state.last_reading,
        set(state.active_at),
    )
