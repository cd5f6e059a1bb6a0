"""Each push channel's last delivery, failure and passed test, written by every real send
(the dispatcher's and the settings page's test), read by the dashboard and `nursery status`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub.store.dbfile import connect_private, write_transaction
from hub.store.migrations import migrate
from hub.store.records import from_ms, to_ms

_COLUMNS = (
    "url, delivered_at_ms, failed_at_ms, failing_since_ms, last_error, tested_at_ms, told_at_ms"
)


def _when(ms: object) -> datetime | None:
    return None if ms is None else from_ms(int(str(ms)))


@dataclass(frozen=True, slots=True)
class ChannelState:
    url: str
    delivered_at: datetime | None  # the last push this channel's service accepted
    failed_at: datetime | None  # the last attempt that did not arrive
    failing_since: datetime | None  # first failure since the last delivery; None: working
    last_error: str | None  # already redacted
    tested_at: datetime | None  # a test push arrived and nobody said it did not
    told_at: datetime | None  # the other caregivers were told it stopped working

    @property
    def failing(self) -> bool:
        """Its last delivery failed."""
        return self.failing_since is not None


def _state(row: tuple[object, ...]) -> ChannelState:
    error = row[4]
    return ChannelState(
        str(row[0]),
        _when(row[1]),
        _when(row[2]),
        _when(row[3]),
        None if error is None else str(error),
        _when(row[5]),
        _when(row[6]),
    )


def read_states(db: sqlite3.Connection) -> dict[str, ChannelState]:
    """Every channel the hub ever sent to, by URL (also on a read-only connection)."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM channel_health").fetchall()  # noqa: S608
    return {str(row[0]): _state(tuple(row)) for row in rows}


class ChannelHealth:
    """The channel_health table on a connection of its own; `on_change` hears of every
    failure and recovery (the channel watch)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = connect_private(path)
        migrate(self._db)  # the file's tables, made or upgraded first (hub/store/migrations.py)
        self.on_change: Callable[[], None] = lambda: None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _upsert(self, url: str, sets: str, values: tuple[object, ...]) -> None:
        with write_transaction(self._db, self._lock) as db:
            db.execute("INSERT OR IGNORE INTO channel_health (url) VALUES (?)", (url,))
            db.execute(f"UPDATE channel_health SET {sets} WHERE url = ?", (*values, url))  # noqa: S608

    def delivered(self, url: str, at: datetime, *, test: bool = False) -> None:
        """The service accepted a push: the channel works again (and, for a test, passed)."""
        was_failing = self.state(url).failing
        sets = "delivered_at_ms = ?, failing_since_ms = NULL, told_at_ms = NULL"
        values: tuple[object, ...] = (to_ms(at),)
        if test:
            sets += ", tested_at_ms = ?"
            values += (to_ms(at),)
        self._upsert(url, sets, values)
        if was_failing:
            self.on_change()

    def failed(self, url: str, at: datetime, error: str) -> None:
        """An attempt did not arrive; a failing streak starts here unless one is under way."""
        self._upsert(
            url,
            "failed_at_ms = ?, last_error = ?, failing_since_ms = coalesce(failing_since_ms, ?)",
            (to_ms(at), error[:500], to_ms(at)),
        )
        self.on_change()

    def untested(self, url: str) -> None:
        """A caregiver said the test push did not arrive: the channel has not passed."""
        self._upsert(url, "tested_at_ms = NULL", ())

    def told(self, url: str, at: datetime) -> None:
        self._upsert(url, "told_at_ms = ?", (to_ms(at),))

    def state(self, url: str) -> ChannelState:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM channel_health WHERE url = ?",  # noqa: S608
                (url,),
            ).fetchone()
        if row is None:
            return ChannelState(url, None, None, None, None, None, None)
        return _state(tuple(row))

    def states(self, urls: Iterable[str]) -> dict[str, ChannelState]:
        return {url: self.state(url) for url in urls}


@dataclass(frozen=True, slots=True)
class OwnedChannel:
    caregiver: str
    label: str
    state: ChannelState


def caregivers_channels(db: sqlite3.Connection) -> list[OwnedChannel]:
    """Each caregiver's own channels with how they are doing, for `nursery status` (on a
    read-only connection: the tables the hub made)."""
    states = read_states(db)
    rows = db.execute(
        "SELECT c.name, ch.label, ch.url FROM caregiver_channels AS ch"
        " JOIN caregivers AS c ON c.id = ch.caregiver_id ORDER BY c.id, ch.id"
    ).fetchall()
    empty = ChannelState("", None, None, None, None, None, None)
    return [
        OwnedChannel(str(name), str(label), states.get(str(url), empty))
        for name, label, url in rows
    ]
