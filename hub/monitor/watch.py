"""The watch over every room: rules on each reading and on time passing, incidents, pushes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from contract.alert_state import AlertStateMessage
from contract.errors import NurseryError
from contract.messages import FaultMessage, HealthMessage
from contract.topics import Status
from hub.conditions import Condition, Finding, Incident
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.monitor.alerts import AlertError, AlertView, acknowledge, answer_all, plan, snooze
from hub.monitor.confirm import confirmed
from hub.monitor.paging import Pager, link_signer
from hub.monitor.publishing import Publish, StatePublisher, alert_state
from hub.monitor.restore import rebuilt_rules
from hub.monitor.room_state import RoomStates
from hub.monitor.rules import FaultSeen, Policy, ReadingSeen, RoomRules, StatusSeen, step
from hub.monitor.schedule import MAX_SLEEP_S, SILENCE, TICK_S, Clock, Ticker, room_due
from hub.monitor.source_rooms import SourceRooms
from hub.monitor.unsaved import UnsavedAlerts
from hub.notify.outbox import PushOutbox
from hub.notify.push import Push
from hub.preferences import Household, Unit
from hub.store.database import Received, Store

log = logging.getLogger("nursery.hub.monitor")

RECENT = timedelta(hours=24)


class UnknownAlert(NurseryError, LookupError):
    """No alert with that id."""


class Monitor:
    """Feeds the rules, keeps incidents in the store, and queues the pushes they need."""

    def __init__(
        self,
        settings: HubConfig,
        store: Store,
        outbox: PushOutbox,
        clock: Clock,
        publish: Publish | None = None,
        wake_dispatcher: Callable[[Sequence[Push]], None] | None = None,
        discovery: Discovery | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        # The room state beside the alert state; published with discovery only.
        self._room_states = RoomStates(discovery, store) if discovery is not None else None
        self._states = StatePublisher(settings.mqtt.base_topic, publish, self._room_states)
        self._faulted: dict[str, bool] = {}
        self._sensors: dict[str, str | None] = {}  # each room's sensor model, from health
        # Given the pushes of each commit, so it can start them without re-reading.
        wake: Callable[[Sequence[Push]], None] = wake_dispatcher or (lambda pushes: None)
        self._pager = Pager(outbox, wake, link_signer(settings, store))
        # The rules' policy, per room (hub.sources' rooms have their own silence limits).
        self._rooms = SourceRooms(settings.hub.sources, Policy.from_settings(settings.rules))
        self._unit: Unit = "C"
        self._configured_caregivers = settings.notify.caregivers
        self._lock = threading.RLock()
        self._rules: dict[str, RoomRules] = {}
        self._findings: dict[str, dict[Condition, Finding]] = {}
        self._open: dict[str, dict[Condition, Incident]] = {}
        self._last_reading: dict[str, datetime] = {}
        self._active_at: dict[str, dict[Condition, datetime]] = {}
        self.unsaved = UnsavedAlerts()  # alerts a full or read-only disk refused
        self._ticker = Ticker(self._lock, clock, self._next_due, self.tick)

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Restore from the database, then watch the clock."""
        self.restore()
        if not (self._settings.notify.urls or self._settings.notify.caregivers):
            log.warning(
                "no notify.urls or notify.caregivers: alerts show on the dashboard and "
                "MQTT only, no phone will be told"
            )
        self._ticker.start()

    def restore(self) -> None:
        """Open incidents and the rules' memory from the database, as after a restart."""
        with self._lock:
            for incident in self._store.open_incidents():
                self._open.setdefault(incident.room, {})[incident.condition] = incident
                self._rooms.restore(incident)
            self._rebuild()
            self.tick()

    def stop(self) -> None:
        self._ticker.stop()

    def _rebuild(self) -> None:
        for name, state, count in rebuilt_rules(self._store, self._rooms.policy, self._clock()):
            self._rules[name] = state
            health = self._store.health(name)
            if health is not None:
                self._sensors[name] = health.sensor
                if self._room_states is not None:
                    self._room_states.restore(name, health)
            log.info("rules for %s rebuilt from %d recent readings", name, count)

    def _next_due(self, now: datetime, rooms: Iterable[str] | None = None) -> datetime:
        """The next moment time alone may change a room (all rooms, or those given):
        see hub.monitor.schedule.room_due."""
        due = now + timedelta(seconds=MAX_SLEEP_S)
        names = self._rules.keys() if rooms is None else rooms
        for room in names:
            rules = self._rules.get(room)
            if rules is None:
                continue
            open_now = self._open.get(room, {})
            found = (*self._findings.get(room, {}), *open_now)
            room_at = room_due(
                now,
                rules,
                self._rooms.policy(room),
                self._settings.alerts,
                incidents=open_now.values(),
                silent=any(c in SILENCE for c in found),
                held_back=self._room_states.due(room) if self._room_states else None,
            )
            due = min(due, room_at)
        return due

    def next_due(self) -> datetime:
        """When the ticker next wakes for time alone (for a test that drives the clock)."""
        with self._lock:
            return self._next_due(self._clock())

    def _reschedule(self, rooms: Iterable[str] | None = None) -> None:
        """After an input (under the lock): wake the ticker if a deadline came closer.
        Given the rooms the input touched, only theirs are looked at: the others' deadlines
        are unchanged and already behind the planned wake-up."""
        planned_at = self._ticker.planned_at
        if planned_at is None:
            return
        if self._next_due(self._clock(), rooms) < planned_at:
            self._ticker.nudge()

    def watching(self, within_s: float = MAX_SLEEP_S + 10 * TICK_S) -> bool:
        """True while the ticker has completed a tick recently: for the watchdog."""
        return self._ticker.watching(within_s)

    # --- inputs ---------------------------------------------------------------------

    def on_readings(self, batch: Iterable[Received]) -> None:
        now = self._clock()
        with self._lock:
            touched: set[str] = set()
            for item in batch:
                reading = item.reading
                event = ReadingSeen(
                    reading.ts,
                    item.received_at,
                    reading.temperature_c,
                    reading.humidity_pct,
                    boot_id=reading.boot_id,
                    seq=reading.seq,
                    live=reading.live,
                )
                self._step(reading.room, event, item.received_at)
                self._last_reading[reading.room] = item.received_at
                self._faulted[reading.room] = False
                touched.add(reading.room)
            for room in touched:
                if self._room_states is not None:
                    self._room_states.on_readings(room)
                self._apply(room, now)
            self._reschedule(touched)

    def on_status(self, room: str, status: Status, at: datetime) -> None:
        with self._lock:
            self._step(room, StatusSeen(at, online=status == "online"), at)
            self._apply(room, self._clock())
            self._reschedule([room])

    def on_health(self, health: HealthMessage) -> None:
        with self._lock:
            self._sensors[health.room] = health.sensor  # its accuracy goes into the pushes
            if self._room_states is None:
                return
            now = self._clock()
            settle = timedelta(seconds=TICK_S)
            if self._room_states.on_health(health, now, settle):
                self._publish_state(health.room, now)
            else:
                self._reschedule([health.room])

    def on_battery(self, room: str, percent: float, at: datetime) -> None:
        """Another system's battery level: at or below its limit, an advisory."""
        with self._lock:
            self._rooms.battery(room, percent, at)
            self._step(room, None, at)
            self._apply(room, self._clock())
            self._reschedule([room])

    def on_fault(self, fault: FaultMessage, at: datetime) -> None:
        with self._lock:
            self._faulted[fault.room] = True
            self._step(fault.room, FaultSeen(at, fault.consecutive_failures), at)
            self._apply(fault.room, self._clock())
            self._reschedule([fault.room])

    def on_command(self, room: str, action: Literal["ack", "snooze"], minutes: int) -> None:
        """An ack or snooze from home automation (a Home Assistant button): it answers the
        room, as `answer_room` does."""
        try:
            answered = self.answer_room(room, action, minutes, "home automation", "mqtt")
        except AlertError as exc:
            log.info("%s command for %s: %s", action, room, exc)
            return
        if not answered:
            log.info("%s command for %s: no alert waits for an answer", action, room)

    def answer_room(
        self, room: str, action: Literal["ack", "snooze"], minutes: int, by: str, via: str
    ) -> list[Incident]:
        """One "I'm on it" for a whole room: answers every alert of the room nobody has
        answered yet, never one already answered (alerts.room_answer says which), all in
        one commit and one published state. Returns the incidents it changed, most urgent
        first; empty when there was nothing to answer."""
        now = self._clock()
        with self._lock:
            incidents = self._open.get(room, {}).values()
            updated = answer_all(incidents, action, minutes, by, via, now)
            if not updated:
                return []
            saved = self._save(updated)
            for incident in saved:
                _log_answer(incident)
            self._publish_state(room, now)
            self._reschedule()
            return saved

    def tick(self) -> None:
        now = self._clock()
        with self._lock:
            for room in list(self._rules):
                self._step(room, None, now)
                self._apply(room, now)

    def _step(
        self, room: str, event: ReadingSeen | StatusSeen | FaultSeen | None, at: datetime
    ) -> None:
        state = self._rules.get(room) or RoomRules.empty(room, at)
        state, findings = step(state, event, self._rooms.policy(room), at)
        self._rules[room] = state
        self._findings[room] = self._rooms.with_battery(room, findings)

    def _confirmed(self, room: str, now: datetime) -> dict[Condition, Finding]:
        """The rules' findings, plus the open incidents no fresh reading has ended
        (hub.monitor.confirm: the replay decides the same way)."""
        return confirmed(
            self._findings.get(room, {}),
            self._open.get(room, {}),
            self._last_reading.get(room),
            self._active_at.setdefault(room, {}),
            now,
        )

    def _apply(self, room: str, now: datetime) -> None:
        open_now = self._open.get(room, {})
        decided = plan(
            room,
            open_now,
            self._confirmed(room, now),
            self._settings.alerts,
            now,
            now.astimezone(),
        )
        try:
            saved = {i.condition: i for i in self._save(decided.changed)} if decided.changed else {}
        except Exception as exc:  # a full or read-only disk: the save alarm speaks for it
            if not self.unsaved.refused(room, exc, now):
                raise
            self._publish_state(room, now)  # MQTT needs no disk: automations still see it
            return
        self.unsaved.saved(room)
        if decided.pushes:
            self._pager.send(
                [(p, saved.get(p.incident.condition, p.incident)) for p in decided.pushes],
                now,
                self._settings,
                self._unit,
                sensors=self._sensors,
                rules=self._rules,
            )
        self._publish_state(room, now)

    def _save(self, incidents: list[Incident]) -> list[Incident]:
        saved = self._store.save_incidents(incidents)
        for incident in saved:
            room = self._open.setdefault(incident.room, {})
            if incident.resolved_at is None:
                room[incident.condition] = incident
            else:
                room.pop(incident.condition, None)
        return saved

    # --- pushes ---------------------------------------------------------------------

    def use_household(self, household: Household) -> None:
        """The dashboard changed the guidance, °C/°F or a caregiver's channels: judge,
        write and page with them from now on. Caregivers' own channels, once any exist,
        take the place of notify.caregivers."""
        with self._lock:
            caregivers = [list(group) for group in household.caregiver_channels]
            notify = self._settings.notify.model_copy(
                update={"caregivers": caregivers or self._configured_caregivers}
            )
            self._settings = self._settings.model_copy(
                update={"rules": household.rules, "notify": notify}
            )
            self._rooms.use(Policy.from_settings(household.rules))
            self._unit = household.unit
            self._reschedule()

    # --- MQTT -----------------------------------------------------------------------

    def _publish_state(self, room: str, now: datetime) -> None:
        open_now = self._open.get(room, {})
        self._states.publish(
            room,
            now,
            self._rules.get(room),
            open_now.values(),
            conditions=set(self._findings.get(room, {})) | set(open_now),
            sensor_fault=self._faulted.get(room, False),
        )

    def republish(self) -> None:
        """Send every room's alert state again (after the hub reconnects to the broker)."""
        with self._lock:
            self._states.forget()
            now = self._clock()
            for room in self._rules:
                self._publish_state(room, now)

    def alert_state(self, room: str, now: datetime) -> AlertStateMessage:
        """The room's retained alert state: see hub.monitor.alert_state."""
        return alert_state(room, self._rules.get(room), self._open.get(room, {}).values(), now)

    # --- acknowledgements -----------------------------------------------------------

    def acknowledge(self, incident_id: int, by: str, via: str) -> Incident:
        return self._answer(incident_id, lambda i, now: acknowledge(i, by, via, now))

    def snooze(self, incident_id: int, minutes: int, by: str, via: str) -> Incident:
        return self._answer(incident_id, lambda i, now: snooze(i, minutes, by, via, now))

    def _answer(
        self, incident_id: int, change: Callable[[Incident, datetime], Incident]
    ) -> Incident:
        now = self._clock()
        with self._lock:
            incident = self._store.incident(incident_id)
            if incident is None:
                raise UnknownAlert(f"no alert with id {incident_id}")
            current = self._open.get(incident.room, {}).get(incident.condition)
            if current is not None and current.id == incident_id:
                incident = current
            updated = change(incident, now)
            self._save([updated])
            _log_answer(updated)
            self._publish_state(incident.room, now)
            self._reschedule()
            return updated

    def verify_link(
        self, incident_id: int, action: str, expires: int, signature: str, minutes: int | None
    ) -> None:
        self._pager.verify_link(incident_id, action, expires, signature, minutes, self._clock())

    def alerts(self) -> list[AlertView]:
        """Open alerts and those of the last 24 h, newest first."""
        now = self._clock()
        with self._lock:
            incidents = self._store.recent_incidents(now - RECENT)
        return [AlertView(i, i.state(now)) for i in incidents]


def _log_answer(i: Incident) -> None:
    answer = "snoozed" if i.snoozed_until else "acknowledged"
    log.info("alert %s (%s in %s) %s via %s", i.id, i.condition, i.room, answer, i.acked_via)
