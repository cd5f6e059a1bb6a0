"""The watch over every room: rules on each reading and on time passing, incidents, pushes.

Ingest calls in after each commit, a ticker calls in when time alone can change something
(a silent room changes nothing on the wire, so time itself must be watched), and the API
calls in for acknowledgements. One lock keeps the three in step; the work under it is
small. The ticker sleeps until the next such moment (a room going stale, a repeat, an
escalation, a snooze or quiet hours ending), at least every MAX_SLEEP_S, and every
TICK_S while a room is silent; an input that brings a moment closer wakes it.
Pushes go to the outbox, never straight to the network, so a hanging push service cannot
slow ingest; all pushes of one decision share one commit, and the dispatcher starts
sending them the moment it is made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from contract.alert_state import AlertStateMessage
from contract.errors import NurseryError
from contract.messages import FaultMessage, HealthMessage
from contract.topics import Status, alert_topic
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.monitor import messages
from hub.monitor.alert_state import room_alert_state
from hub.monitor.alerts import (
    AlertError,
    Incident,
    PushRequest,
    acknowledge,
    next_due,
    plan,
    quiet_hours_end,
    room_answer,
    snooze,
)
from hub.monitor.conditions import Condition, Finding
from hub.monitor.room_state import RoomStates
from hub.monitor.rules import (
    FaultSeen,
    Policy,
    ReadingSeen,
    RoomRules,
    StatusSeen,
    replay,
    silence_due_at,
    step,
)
from hub.notify.links import LinkSigner
from hub.notify.outbox import PushOutbox
from hub.notify.push import Action, NewPush, Push
from hub.preferences import Household, Unit
from hub.store.database import Received, Store

log = logging.getLogger("nursery.hub.monitor")

Clock = Callable[[], datetime]
Publish = Callable[[str, bytes], None]
TICK_S = 1.0  # the pace while a room is silent (its silence grows by the second)
# The longest the ticker sleeps: a heartbeat for the systemd watchdog, and a bound on
# how late a deadline is seen after the wall clock jumps (NTP on a Pi without a clock).
MAX_SLEEP_S = 30.0
_PAST_DUE = timedelta(milliseconds=10)  # the rules see silence strictly after stale_after_s
_SILENCE = (Condition.NO_DATA, Condition.OFFLINE)
RECENT = timedelta(hours=24)


class UnknownAlert(NurseryError, LookupError):
    """No alert with that id."""


@dataclass(frozen=True, slots=True)
class AlertView:
    incident: Incident
    state: str


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
        self._outbox = outbox
        self._clock = clock
        self._publish = publish
        # The room state beside the alert state; published with discovery only.
        self._room_states = RoomStates(discovery, store) if discovery is not None else None
        self._faulted: dict[str, bool] = {}
        self._sensors: dict[str, str | None] = {}  # each room's sensor model, from health
        # Given the pushes of each commit, so it can start them without re-reading.
        self._wake: Callable[[Sequence[Push]], None] = wake_dispatcher or (lambda pushes: None)
        self._policy = Policy.from_settings(settings.rules)
        self._unit: Unit = "C"
        self._configured_caregivers = settings.notify.caregivers
        self._lock = threading.RLock()
        self._rules: dict[str, RoomRules] = {}
        self._findings: dict[str, dict[Condition, Finding]] = {}
        self._open: dict[str, dict[Condition, Incident]] = {}
        self._published: dict[str, bytes] = {}
        self._last_reading: dict[str, datetime] = {}
        self._active_at: dict[tuple[str, Condition], datetime] = {}
        self._stop = threading.Event()
        self._nudge = threading.Event()  # an input brought the next tick closer, or stop
        self._planned_at: datetime | None = None  # when the ticker means to tick next
        self.last_tick = time.monotonic()
        self._ticker = threading.Thread(target=self._tick_loop, name="monitor-tick", daemon=True)
        public_url = settings.notify.public_url
        self._signer = (
            LinkSigner(
                store.secret("link-signing"),
                public_url,
                timedelta(seconds=settings.notify.link_ttl_s),
            )
            if public_url
            else None
        )

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
            self._rebuild()
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        self._nudge.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)

    def _rebuild(self) -> None:
        now = self._clock()
        window = timedelta(seconds=self._policy.memory_s)
        for room in self._store.rooms():
            rows = self._store.recent_readings(room.name, now - window)
            if not rows and room.latest is not None:
                rows = [room.latest]
            state = replay(
                room.name,
                (
                    ReadingSeen(
                        r.ts, r.received_at, r.temperature_c, r.humidity_pct, r.boot_id, r.seq
                    )
                    for r in rows
                ),
                self._policy,
                room.latest.received_at if room.latest else now,
            )
            if room.status == "offline" and room.status_at is not None:
                state, _ = step(
                    state, StatusSeen(room.status_at, online=False), self._policy, room.status_at
                )
            self._rules[room.name] = state
            health = self._store.health(room.name)
            if health is not None:
                self._sensors[room.name] = health.sensor
                if self._room_states is not None:
                    self._room_states.restore(room.name, health)
            log.info("rules for %s rebuilt from %d recent readings", room.name, len(rows))

    def _tick_loop(self) -> None:
        ticked = True  # start() ticked in restore()
        while not self._stop.is_set():
            with self._lock:
                self._nudge.clear()
                now = self._clock()
                wait_s = (self._next_due(now) - now).total_seconds()
                if wait_s <= 0 and ticked:
                    wait_s = TICK_S  # still due after a tick: never spin, keep the old pace
                wait_s = min(wait_s, MAX_SLEEP_S)
                self._planned_at = now + timedelta(seconds=wait_s)
            if wait_s > 0 and self._nudge.wait(wait_s):
                ticked = False
                continue  # stopping, or an input moved a deadline closer: plan again
            try:
                self.tick()
                self.last_tick = time.monotonic()
            except Exception:  # the watch must go on; the next tick tries again
                log.exception("monitor tick failed")
            ticked = True

    def _next_due(self, now: datetime, rooms: Iterable[str] | None = None) -> datetime:
        """The next moment time alone may change a room (all rooms, or those given): going
        stale, a repeat, an escalation, a snooze or quiet hours ending, a backlog count
        to publish (on_health); a silent room's every second."""
        due = now + timedelta(seconds=MAX_SLEEP_S)
        alerts = self._settings.alerts
        names = self._rules.keys() if rooms is None else rooms
        for room in names:
            rules = self._rules.get(room)
            if rules is None:
                continue
            open_now = self._open.get(room, {})
            held_back = self._room_states.due(room) if self._room_states else None
            if held_back is not None:
                due = min(due, held_back)
            if any(c in _SILENCE for c in (*self._findings.get(room, {}), *open_now)):
                due = min(due, now + timedelta(seconds=TICK_S))
            stale_at = silence_due_at(rules, self._policy)
            if stale_at is not None:
                due = min(due, stale_at + _PAST_DUE)
            for incident in open_now.values():
                when: datetime | None
                if incident.held:
                    when = quiet_hours_end(alerts.quiet_hours, now.astimezone()) or now
                else:
                    when = next_due(incident, alerts, now)
                if when is not None:
                    due = min(due, when)
        return due

    def _reschedule(self, rooms: Iterable[str] | None = None) -> None:
        """After an input (under the lock): wake the ticker if a deadline came closer.
        Given the rooms the input touched, only theirs are looked at: the others' deadlines
        are unchanged and already behind the planned wake-up."""
        if self._planned_at is None:
            return
        if self._next_due(self._clock(), rooms) < self._planned_at:
            self._nudge.set()

    def watching(self, within_s: float = MAX_SLEEP_S + 10 * TICK_S) -> bool:
        """True while the ticker has completed a tick recently: for the watchdog."""
        return time.monotonic() - self.last_tick < within_s

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
        answered yet, never one already answered (hub.alerts.room_answer says which), all in
        one commit and one published state. Returns the incidents it changed, most urgent
        first; empty when there was nothing to answer."""
        now = self._clock()
        with self._lock:
            targets = room_answer(self._open.get(room, {}).values(), action, now)
            if action == "ack":
                updated = [acknowledge(i, by, via, now) for i in targets]
            else:
                updated = [snooze(i, minutes, by, via, now) for i in targets]
            if not updated:
                return []
            saved = self._save(updated)
            for incident in saved:
                log.info(
                    "alert %s (%s in %s) %s via %s",
                    incident.id,
                    incident.condition,
                    room,
                    "snoozed" if incident.snoozed_until else "acknowledged",
                    via,
                )
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
        state, findings = step(state, event, self._policy, at)
        self._rules[room] = state
        self._findings[room] = findings

    def _confirmed(self, room: str, now: datetime) -> dict[Condition, Finding]:
        """The rules' findings, plus every open incident no reading has spoken on since it
        was last seen active: only fresh readings may end an alert, never silence and never
        a restart that forgot why it was open."""
        findings = dict(self._findings.get(room, {}))
        last_reading = self._last_reading.get(room)
        for condition, incident in self._open.get(room, {}).items():
            key = (room, condition)
            if condition in findings:
                self._active_at[key] = now
                continue
            active_at = self._active_at.setdefault(key, now)
            if last_reading is None or last_reading <= active_at:
                findings[condition] = incident.finding()
        return findings

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
        saved = {i.condition: i for i in self._save(decided.changed)} if decided.changed else {}
        if decided.pushes:
            self._send(
                [
                    (push, saved.get(push.incident.condition, push.incident))
                    for push in decided.pushes
                ],
                now,
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
            self._policy = Policy.from_settings(household.rules)
            self._unit = household.unit
            self._reschedule()

    def _urls(self, audience: str) -> list[str]:
        notify = self._settings.notify
        everyone = [*notify.urls, *(notify.caregivers[0] if notify.caregivers else [])]
        if audience == "escalation":
            second = notify.caregivers[1] if len(notify.caregivers) > 1 else []
            return list(dict.fromkeys(second or everyone))
        return list(dict.fromkeys(everyone))

    def _send(self, pushes: list[tuple[PushRequest, Incident]], now: datetime) -> None:
        """Queue every push of one decision, to every channel, in one commit (one fsync),
        handing them to the dispatcher as soon as they are committed."""
        new: list[NewPush] = []
        for push, incident in pushes:
            message, actions = self._compose(push, incident, now)
            new += [
                NewPush(url, message, incident.id, actions, push.bypass_rate_limit)
                for url in self._urls(push.audience)
            ]
        self._outbox.enqueue_many(new, now=now, committed=self._wake)
        for push, incident in pushes:
            log.info(
                "%s %s push for %s (alert %s)",
                push.kind,
                incident.condition,
                incident.room,
                incident.id,
            )

    def _compose(
        self, push: PushRequest, incident: Incident, now: datetime
    ) -> tuple[messages.Message, tuple[Action, ...]]:
        """The text of a push and its buttons, the same for every channel."""
        finding = incident.finding()
        rules, unit = self._settings.rules, self._unit
        accuracy = messages.accuracy_c(self._sensors.get(incident.room))
        if push.kind == "first":
            message = messages.first_page(finding, rules, now, unit, accuracy_c=accuracy)
        elif push.kind == "repeat":
            message = messages.repeat(finding, rules, now, unit, accuracy_c=accuracy)
        elif push.kind == "worse":
            message = messages.worse(
                finding, rules, now, unit, previous=push.previous, accuracy_c=accuracy
            )
        elif push.kind == "escalation":
            message = messages.escalation(
                finding,
                rules,
                now,
                unit,
                unacknowledged_for=now - (incident.notified_at or now),
                accuracy_c=accuracy,
            )
        else:
            state = self._rules.get(incident.room)
            message = messages.resolved(
                finding,
                now - incident.opened_at,
                value=state.filtered_temperature if state else None,
                unit=unit,
            )
        actions: tuple[Action, ...] = ()
        if self._signer and incident.id is not None and push.kind != "resolved":
            actions = (
                Action(messages.ACK_LABEL, self._signer.url(incident.id, "ack", now), clear=True),
                Action(messages.SNOOZE_LABEL, self._signer.url(incident.id, "snooze", now)),
            )
        return message, actions

    # --- MQTT -----------------------------------------------------------------------

    def _publish_state(self, room: str, now: datetime) -> None:
        self._publish_once(
            alert_topic(self._settings.mqtt.base_topic, room), self.alert_state(room, now).encode()
        )
        if self._room_states is not None:
            rules = self._rules.get(room)
            state = self._room_states.message(
                room,
                temperature_c=rules.filtered_temperature if rules else None,
                conditions=set(self._findings.get(room, {})) | set(self._open.get(room, {})),
                sensor_fault=self._faulted.get(room, False),
                last_heard=rules.last_data_at if rules else None,
            )
            self._publish_once(self._room_states.topic(room), state.encode())

    def _publish_once(self, topic: str, payload: bytes) -> None:
        """Retained state goes out when it changes, not on every one-second tick."""
        if self._publish is None or self._published.get(topic) == payload:
            return
        self._published[topic] = payload
        self._publish(topic, payload)

    def republish(self) -> None:
        """Send every room's alert state again (after the hub reconnects to the broker)."""
        with self._lock:
            self._published.clear()
            if self._room_states is not None:
                self._room_states.forget_sent()
            now = self._clock()
            for room in self._rules:
                self._publish_state(room, now)

    def alert_state(self, room: str, now: datetime) -> AlertStateMessage:
        """The room's retained alert state: see hub.monitor.alert_state."""
        latest = self._rules.get(room)
        temperature = latest.filtered_temperature if latest else None
        return room_alert_state(room, self._open.get(room, {}).values(), temperature, now)

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
            log.info(
                "alert %d (%s in %s) %s via %s",
                incident_id,
                incident.condition,
                incident.room,
                "snoozed" if updated.snoozed_until else "acknowledged",
                updated.acked_via,
            )
            self._publish_state(incident.room, now)
            self._reschedule()
            return updated

    def verify_link(
        self, incident_id: int, action: str, expires: int, signature: str, minutes: int | None
    ) -> None:
        if self._signer is None:
            raise AlertError(messages.LINK_OFF)
        if action not in ("ack", "snooze"):
            raise AlertError("unknown action")
        self._signer.verify(incident_id, action, expires, signature, self._clock(), minutes)  # type: ignore[arg-type]

    def alerts(self) -> list[AlertView]:
        """Open alerts and those of the last 24 h, newest first."""
        now = self._clock()
        with self._lock:
            incidents = self._store.recent_incidents(now - RECENT)
        return [AlertView(i, i.state(now)) for i in incidents]
