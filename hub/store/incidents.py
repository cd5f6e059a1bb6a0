"""The incidents table: each alert from opening to resolving, as the alert machine keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.conditions import Condition, Incident
from hub.store.part import StorePart
from hub.store.records import from_ms, opt_dt, opt_ms, to_ms

_INCIDENT_COLUMNS = (
    "id, room, condition, opened_at_ms, since_ms, value, threshold, worst, minutes_to_cold,"
    " notified_at_ms, last_push_at_ms, repeats, escalated_at_ms, acked_at_ms, acked_by,"
    " acked_via, rearm_from, snoozed_until_ms, held, resolved_at_ms"
)
_FIELDS = [column.strip() for column in _INCIDENT_COLUMNS.split(",")[1:]]
# Built once from the fixed column list above; no user input reaches these strings.
_INSERT_INCIDENT = (
    f"INSERT INTO incidents ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"  # noqa: S608
)
_UPDATE_INCIDENT = f"UPDATE incidents SET {', '.join(f + ' = ?' for f in _FIELDS)} WHERE id = ?"  # noqa: S608
_SELECT_INCIDENTS = f"SELECT {_INCIDENT_COLUMNS} FROM incidents"  # noqa: S608


def _incident_row(incident: Incident) -> tuple[object, ...]:
    return (
        incident.room,
        incident.condition.value,
        to_ms(incident.opened_at),
        to_ms(incident.since),
        incident.value,
        incident.threshold,
        incident.worst,
        incident.minutes_to_cold,
        opt_ms(incident.notified_at),
        opt_ms(incident.last_push_at),
        incident.repeats,
        opt_ms(incident.escalated_at),
        opt_ms(incident.acked_at),
        incident.acked_by,
        incident.acked_via,
        incident.rearm_from,
        opt_ms(incident.snoozed_until),
        int(incident.held),
        opt_ms(incident.resolved_at),
    )


def _incident(row: tuple[Any, ...]) -> Incident:
    return Incident(
        id=row[0],
        room=row[1],
        condition=Condition(row[2]),
        opened_at=from_ms(row[3]),
        since=from_ms(row[4]),
        value=row[5],
        threshold=row[6],
        worst=row[7],
        minutes_to_cold=row[8],
        notified_at=opt_dt(row[9]),
        last_push_at=opt_dt(row[10]),
        repeats=row[11],
        escalated_at=opt_dt(row[12]),
        acked_at=opt_dt(row[13]),
        acked_by=row[14],
        acked_via=row[15],
        rearm_from=row[16],
        snoozed_until=opt_dt(row[17]),
        held=bool(row[18]),
        resolved_at=opt_dt(row[19]),
    )


class Incidents(StorePart):
    """Saves the alert machine's incidents and reads them back for the API and charts."""

    def save_incidents(self, incidents: Iterable[Incident]) -> list[Incident]:
        """Insert new incidents and update known ones in one commit; returns them with ids."""
        saved: list[Incident] = []
        with self._tx() as db:
            for incident in incidents:
                row = _incident_row(incident)
                if incident.id is None:
                    cursor = db.execute(_INSERT_INCIDENT, row)
                    incident = replace(incident, id=cursor.lastrowid)
                else:
                    db.execute(_UPDATE_INCIDENT, (*row, incident.id))
                saved.append(incident)
        return saved

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS + " WHERE resolved_at_ms IS NULL ORDER BY id"
            ).fetchall()
        return [_incident(row) for row in rows]

    def incident(self, incident_id: int) -> Incident | None:
        if not 0 < incident_id < 2**63:
            return None  # no such row can exist, and SQLite would raise OverflowError
        with self._lock:
            row = self._db.execute(
                _SELECT_INCIDENTS + " WHERE id = ?",
                (incident_id,),
            ).fetchone()
        return None if row is None else _incident(row)

    def recent_incidents(self, since: datetime, limit: int = 100) -> list[Incident]:
        """Open incidents and those opened or resolved since `since`, newest first."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS
                + " WHERE resolved_at_ms IS NULL OR resolved_at_ms >= ? OR opened_at_ms >= ?"
                " ORDER BY opened_at_ms DESC, id DESC LIMIT ?",
                (to_ms(since), to_ms(since), limit),
            ).fetchall()
        return [_incident(row) for row in rows]

    def incidents_between(
        self, room: str, since: datetime, until: datetime, limit: int = 500
    ) -> list[Incident]:
        """The room's alerts open at any time in [since, until], oldest first; the newest
        `limit` when there are more."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_INCIDENTS + " WHERE room = ? AND opened_at_ms <= ?"
                " AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?)"
                " ORDER BY opened_at_ms DESC, id DESC LIMIT ?",
                (room, to_ms(until), to_ms(since), limit),
            ).fetchall()
        return [_incident(row) for row in reversed(rows)]
