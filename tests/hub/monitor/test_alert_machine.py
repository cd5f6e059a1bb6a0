"""A hypothesis state machine over {reading, gap, ack, snooze, restart}, driving the real
Monitor on a real SQLite file with a clock the test moves.

Whatever the order, a parent is never told "back to normal" by silence, never gets a
second first page for one incident (restarts included), and an acknowledgement stops
repeats until the room gets a degree worse.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from contract.messages import ReadingMessage
from hub.monitor.watch import Monitor
from hub.notify.outbox import PushOutbox
from hub.store.database import Received, Store
from nursery.config import Settings

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
ROOM = "nursery"
SETTINGS = Settings(
    rules={"cold_for_s": 60, "stale_after_s": 120, "cool_below_c": 16.0, "drop_c": 15.0},
    alerts={"repeat_after_s": [300, 600], "repeat_every_s": 600, "escalate_after_s": 900},
    notify={"urls": ["json://127.0.0.1:9/family"]},
)


def kind(title: str) -> str:
    """first, repeat, worse or escalation, from the words of the title (hub.messages)."""
    lowered = title.lower()
    if "colder now" in lowered or "hotter now" in lowered or "warmer now" in lowered:
        return "worse"
    if "no answer yet" in lowered:
        return "escalation"
    if "still " in lowered:
        return "repeat"
    return "first"


class AlertMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="alert-machine-"))
        self.db = self.dir / "hub.db"
        self.now = T0
        self.boot = str(uuid.uuid4())
        self.seq = 0
        self.readings: list[datetime] = []  # receive times of valid readings
        self.acked: dict[int, datetime] = {}  # incident id → when acknowledged
        self._open()

    def _open(self) -> None:
        self.store = Store(self.db)
        self.outbox = PushOutbox(self.db)
        self.monitor = Monitor(SETTINGS, self.store, self.outbox, clock=lambda: self.now)
        self.monitor.restore()

    def _advance(self, seconds: float) -> None:
        """Time passes as the hub's ticker sees it: a tick every 10 s."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.now = min(end, self.now + timedelta(seconds=10))
            self.monitor.tick()

    @rule(temperature=st.sampled_from([19.0, 17.0, 16.2, 15.5, 15.0, 14.2, 13.0]))
    def reading(self, temperature: float) -> None:
        self._advance(10)
        message = ReadingMessage(ROOM, self.boot, self.seq, self.now, temperature, 50.0)
        self.seq += 1
        new = self.store.add_readings([Received(message, self.now)])
        self.monitor.on_readings(new)
        self.readings.append(self.now)

    @rule(seconds=st.sampled_from([30, 130, 400, 1000]))
    def gap(self, seconds: int) -> None:
        self._advance(seconds)

    def _unanswered(self) -> list[int]:
        return [
            alert.incident.id
            for alert in self.monitor.alerts()
            if alert.state == "open" and alert.incident.id is not None
        ]

    @precondition(lambda self: bool(self._unanswered()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        incident_id = data.draw(st.sampled_from(self._unanswered()))
        self.monitor.acknowledge(incident_id, "Sam", "dashboard")
        self.acked[incident_id] = self.now

    @precondition(lambda self: bool(self._unanswered()))
    @rule(data=st.data(), minutes=st.sampled_from([15, 30, 60]))
    def snooze(self, data: st.DataObject, minutes: int) -> None:
        incident_id = data.draw(st.sampled_from(self._unanswered()))
        self.monitor.snooze(incident_id, minutes, "Alex", "push")
        self.acked.pop(incident_id, None)

    @rule()
    def restart(self) -> None:
        """A crash and restart: nothing in memory survives, only the files."""
        self.store.close()
        self.outbox.close()
        self._open()

    def _pushes(self) -> list[tuple[int | None, str, int]]:
        """(incident, kind, created ms) of every push the hub queued."""
        with sqlite3.connect(self.db) as db:
            rows = db.execute(
                "SELECT incident_id, title, tags, created_at_ms FROM pushes ORDER BY id"
            ).fetchall()
        return [
            (row[0], "resolved" if "white_check_mark" in row[2] else kind(row[1]), row[3])
            for row in rows
        ]

    @invariant()
    def one_first_page_per_incident(self) -> None:
        firsts = [incident for incident, title, _ in self._pushes() if title == "first"]
        assert len(firsts) == len(set(firsts)), f"a duplicate first page: {self._pushes()}"

    @invariant()
    def never_resolved_by_silence(self) -> None:
        for alert in self.monitor.alerts():
            incident = alert.incident
            if incident.resolved_at is None:
                continue
            fresh = [t for t in self.readings if incident.opened_at < t <= incident.resolved_at]
            assert fresh, f"{incident.condition} resolved at {incident.resolved_at} with no reading"

    @invariant()
    def acknowledged_alerts_stay_quiet_until_worse(self) -> None:
        pushes = self._pushes()
        for incident_id, acked_at in self.acked.items():
            after = [
                push_kind
                for pushed_id, push_kind, at_ms in pushes
                if pushed_id == incident_id and at_ms > acked_at.timestamp() * 1000
            ]
            if "worse" in after:
                after = after[: after.index("worse")]
            assert "repeat" not in after, f"repeats after the ack of {incident_id}: {after}"
            assert "escalation" not in after

    def teardown(self) -> None:
        self.store.close()
        self.outbox.close()
        shutil.rmtree(self.dir, ignore_errors=True)


AlertMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_alert_lifecycle_state_machine = pytest.mark.slow(AlertMachine.TestCase)
