"""The firmware's durable outbox: every reading, and every press of the episode button,
waits in SQLite until the hub stored it.

A broker's PUBACK only says the broker has the message; Mosquitto may still drop it
(`max_queued_messages`), lose it in a restart, or hold it for a hub that never returns. So
a reading gets its `seq` in the same transaction that writes it here, before it is
published, and leaves only when the hub's retained receipt (`StoredMessage`) says it
stored every reading of that boot up to its seq, or when the cap drops it (counted).
docs/outbox.md explains the design; this module is the storage half of it.

Episode-button events (`EpisodeEventMessage`) wait in a table of their own and leave one
by one, when the hub's `EpisodeStoredMessage` names their event id.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from contract.episode_events import EpisodeEventMessage
from contract.errors import NurseryError
from contract.messages import ReadingMessage

# The health message's `floor` names at most this many boots (the contract allows 64 and
# a 4 KiB payload); the oldest come first because they drain first.
FLOOR_BOOTS: Final = 32
# Most button events held; a button that chatters for days (a loose wire) must not fill
# the SD card. A parent presses a few times a night.
EVENTS_CAP: Final = 1000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS boots (
    id INTEGER PRIMARY KEY,
    boot_id TEXT NOT NULL UNIQUE,
    room TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    boot INTEGER NOT NULL REFERENCES boots(id),
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    temperature_c REAL NOT NULL,
    humidity_pct REAL NOT NULL,
    sent_ms INTEGER,
    PRIMARY KEY (boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dropped (
    boot INTEGER NOT NULL REFERENCES boots(id),
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    PRIMARY KEY (boot, lo)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    n INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room TEXT NOT NULL,
    action TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    sent_ms INTEGER
);
"""

# SQLite's primary result codes for a file that is not (or no longer) a database.
_CORRUPT_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class OutboxError(NurseryError, RuntimeError):
    """The outbox file cannot be opened or written (read-only, disk full, corrupt).

    The message names the file and the reason; `corrupt` is true when SQLite says the file
    is not a usable database, so retrying the same file cannot help.
    """

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


def cap_readings(cap_days: float, interval_s: float) -> int:
    """`firmware.outbox_cap_days` of readings at `interval_s`, as a row count (at least 1)."""
    return max(1, round(cap_days * 86400 / interval_s))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(frozen=True, slots=True)
class Held:
    """A reading the outbox holds: taken, not yet confirmed by the hub."""

    room: str
    boot_id: str
    seq: int
    ts: datetime
    temperature_c: float
    humidity_pct: float

    def message(self) -> ReadingMessage:
        """The reading as sent again: `live` false, so the hub files it as history."""
        return ReadingMessage(
            room=self.room,
            boot_id=self.boot_id,
            seq=self.seq,
            ts=self.ts,
            temperature_c=self.temperature_c,
            humidity_pct=self.humidity_pct,
            live=False,
        )


class Outbox:
    """One SQLite file (0600, WAL) of readings awaiting the hub's receipt.

    `cap` is the most readings it holds; past it the oldest go first and are counted.
    `max_pages`, when set, limits the file's size in pages: writes beyond it fail exactly
    as on a full disk (tests use it to play a full SD card). Not thread-safe: the
    firmware's main loop is its only user.
    """

    def __init__(self, path: Path | str, cap: int, *, max_pages: int | None = None) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.path = Path(path)
        self.cap = cap
        self._db: sqlite3.Connection | None = None
        self.quarantined: Path | None = None  # where open_outbox moved a corrupt file
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does, whatever the umask; O_RDWR also
            # fails here, with a clear errno, when the file is read-only.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self.path.chmod(0o600)
            db = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is fsynced at every commit, so a reading survives a power cut,
            # not only a crash. One commit per reading (every 10 s) makes it cheap.
            db.execute("PRAGMA synchronous=FULL")
            if max_pages is not None:
                db.execute(f"PRAGMA max_page_count={int(max_pages)}")
            db.executescript(_SCHEMA)
            self._boots: dict[str, int] = {}  # boot id -> row id
            self._boot_ids: dict[int, str] = {}
            self._rooms: dict[int, str] = {}
            for pk, boot_id, room in db.execute("SELECT id, boot_id, room FROM boots"):
                self._boots[boot_id] = pk
                self._boot_ids[pk] = boot_id
                self._rooms[pk] = room
            self._count = int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
            row = db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
            self._dropped = int(row[0]) if row else 0
            self._events = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise self._error("open", exc) from exc
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").chmod(0o600)
        self._applied: dict[str, int] = {}  # marks whose readings are gone
        self._owed: dict[str, int] = {}  # marks noted, readings to delete at the next write

    def _error(self, doing: str, exc: BaseException) -> OutboxError:
        code = getattr(exc, "sqlite_errorcode", None)
        corrupt = isinstance(code, int) and (code & 0xFF) in _CORRUPT_CODES
        return OutboxError(f"cannot {doing} outbox {self.path}: {exc}", corrupt=corrupt)

    def close(self) -> None:
        """Close the file; safe to call twice and after a failure."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Readings held: taken and not yet confirmed, plus any the hub confirmed since the
        last write (`prune()` first for the exact figure)."""
        return self._count

    @property
    def dropped(self) -> int:
        """Readings the cap has dropped since the file was created."""
        return self._dropped

    @property
    def events_pending(self) -> int:
        """Button events held: not yet confirmed by the hub."""
        return self._events

    @contextmanager
    def _tx(self, doing: str) -> Iterator[sqlite3.Connection]:
        db = self._db
        if db is None:
            raise OutboxError(f"outbox {self.path} is closed")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does); a failed COMMIT
                # leaves the transaction open.
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        except (OSError, sqlite3.Error) as exc:
            raise self._error(doing, exc) from exc

    # --- writes ---------------------------------------------------------------------

    def take(
        self,
        room: str,
        boot_id: str,
        next_seq: int,
        ts: datetime,
        temperature_c: float,
        humidity_pct: float,
        *,
        sent_at: float | None,
    ) -> ReadingMessage:
        """Give a reading its seq and keep it, in one commit; the message to publish.

        The seq is `max(last seq of the boot + 1, next_seq)`: `next_seq` is the caller's
        own count, which ran on while the outbox was failing. `sent_at` (time.time()) is
        when it will be published, or None when it cannot be now (offline): the message
        says `live` exactly when it goes out now. Enforces the cap in the same commit.
        """
        # Validate before writing: a reading the contract refuses never takes a seq.
        ReadingMessage(room, boot_id, next_seq, ts, temperature_c, humidity_pct)
        now_ms = _ms(time.time())
        with self._tx("write to") as db:
            db.execute(
                "INSERT INTO boots (boot_id, room, last_seq, created_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (boot_id) DO UPDATE SET last_seq = max(last_seq + 1, ?)",
                (boot_id, room, next_seq, now_ms, next_seq),
            )
            pk, seq = db.execute(
                "SELECT id, last_seq FROM boots WHERE boot_id = ?", (boot_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO readings (boot, seq, ts_ms, temperature_c, humidity_pct, sent_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    pk,
                    seq,
                    _ms(ts.timestamp()),
                    temperature_c,
                    humidity_pct,
                    None if sent_at is None else _ms(sent_at),
                ),
            )
            removed = self._delete_owed(db)
            over = self._count + 1 - removed - self.cap
            dropped = self._drop_oldest(db, over) if over > 0 else 0
        self._settle_owed(removed)
        self._boots[boot_id] = pk
        self._boot_ids[pk] = boot_id
        self._rooms[pk] = room
        self._count += 1 - dropped
        self._dropped += dropped
        return ReadingMessage(
            room, boot_id, seq, ts, temperature_c, humidity_pct, live=sent_at is not None
        )

    def _drop_oldest(self, db: sqlite3.Connection, count: int) -> int:
        """Delete the `count` oldest readings, remember which, and count them."""
        keys = db.execute(
            "SELECT boot, seq FROM readings ORDER BY boot, seq LIMIT ?", (count,)
        ).fetchall()
        db.executemany("DELETE FROM readings WHERE boot = ? AND seq = ?", keys)
        for boot, seq in keys:
            # Extend the range that ends just below, else start a new one.
            cursor = db.execute(
                "UPDATE dropped SET hi = ? WHERE boot = ? AND hi = ?", (seq, boot, seq - 1)
            )
            if cursor.rowcount == 0:
                db.execute("INSERT INTO dropped (boot, lo, hi) VALUES (?, ?, ?)", (boot, seq, seq))
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            (len(keys),),
        )
        return len(keys)

    def confirm(self, marks: Mapping[str, int]) -> None:
        """Note the hub's marks: per boot, every seq up to its mark is stored.

        The readings they cover leave with the next write (`take`, `mark_sent`) or at
        `prune()`, not in a commit of their own: an SD card wears with every commit.
        Marks for boots this outbox never held are ignored; so are marks that do not move.
        """
        for boot_id, mark in marks.items():
            if boot_id in self._boots and mark > self._mark(boot_id):
                self._owed[boot_id] = mark

    def _mark(self, boot_id: str) -> int:
        return max(self._owed.get(boot_id, -1), self._applied.get(boot_id, -1))

    def prune(self) -> int:
        """Delete what the noted marks cover now; how many readings left."""
        if not self._owed:
            return 0
        with self._tx("write to") as db:
            removed = self._delete_owed(db)
        self._settle_owed(removed)
        return removed

    def _delete_owed(self, db: sqlite3.Connection) -> int:
        removed = 0
        for boot_id, mark in self._owed.items():
            removed += db.execute(
                "DELETE FROM readings WHERE boot = ? AND seq <= ?", (self._boots[boot_id], mark)
            ).rowcount
        return removed

    def _settle_owed(self, removed: int) -> None:
        """After the commit that deleted them: the owed marks are applied."""
        self._applied.update(self._owed)
        self._owed.clear()
        self._count -= removed

    def mark_sent(self, keys: Iterable[tuple[str, int]], at: float) -> None:
        """Record that these readings, by (boot id, seq), were (re)published at `at`
        (time.time()): their grace period starts again."""
        rows = [
            (_ms(at), self._boots[boot_id], seq) for boot_id, seq in keys if boot_id in self._boots
        ]
        if not rows:
            return
        with self._tx("write to") as db:
            removed = self._delete_owed(db)
            db.executemany("UPDATE readings SET sent_ms = ? WHERE boot = ? AND seq = ?", rows)
        self._settle_owed(removed)

    # --- episode-button events -------------------------------------------------------

    def add_event(self, message: EpisodeEventMessage, *, sent_at: float | None) -> None:
        """Keep a button event until the hub confirms it; `sent_at` (time.time()) when it
        is published now, None when it cannot be (offline). Keeping the same event again
        changes nothing. Past `EVENTS_CAP` the oldest event goes."""
        with self._tx("write to") as db:
            added = db.execute(
                "INSERT INTO events (event_id, room, action, ts_ms, sent_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (
                    message.event_id,
                    message.room,
                    message.action,
                    _ms(message.ts.timestamp()),
                    None if sent_at is None else _ms(sent_at),
                ),
            ).rowcount
            over = self._events + added - EVENTS_CAP
            if over > 0:
                db.execute(
                    "DELETE FROM events WHERE n IN (SELECT n FROM events ORDER BY n LIMIT ?)",
                    (over,),
                )
        self._events += added - max(0, over)

    def due_events(
        self, now: float, resend_s: float, limit: int = 100
    ) -> list[EpisodeEventMessage]:
        """Events to (re)publish, in the order they were pressed: never sent, or sent more
        than `resend_s` ago (or, after the clock jumped back, in the future)."""
        if self._events == 0:
            return []
        rows = self._query(
            "SELECT event_id, room, action, ts_ms FROM events"
            " WHERE sent_ms IS NULL OR sent_ms <= ? OR sent_ms > ? ORDER BY n LIMIT ?",
            (_ms(now - resend_s), _ms(now + max(resend_s, 1.0)), limit),
        )
        return [
            EpisodeEventMessage(
                room=str(room),
                event_id=str(event_id),
                action=action,
                ts=datetime.fromtimestamp(ts_ms / 1000, tz=UTC),
            )
            for event_id, room, action, ts_ms in rows
        ]

    def mark_events_sent(self, event_ids: Iterable[str], at: float) -> None:
        """Record that these events were (re)published at `at` (time.time())."""
        rows = [(_ms(at), event_id) for event_id in event_ids]
        if not rows:
            return
        with self._tx("write to") as db:
            db.executemany("UPDATE events SET sent_ms = ? WHERE event_id = ?", rows)

    def event_stored(self, event_id: str) -> bool:
        """The hub has stored this event: forget it. False when it was not held (a
        second receipt, or one for another Pi's event)."""
        if self._events == 0:
            return False
        with self._tx("write to") as db:
            removed = db.execute("DELETE FROM events WHERE event_id = ?", (event_id,)).rowcount
        self._events -= removed
        return removed > 0

    # --- reads ----------------------------------------------------------------------

    def due(self, now: float, grace_s: float, limit: int) -> list[Held]:
        """Up to `limit` readings to (re)send, oldest first: never sent, or sent more than
        `grace_s` ago without a receipt. A send time in the future (the clock was set back)
        counts as due, so a clock jump cannot stall the backlog."""
        if limit <= 0:
            return []
        before, after = _ms(now - grace_s), _ms(now + grace_s)
        for _ in range(2):
            rows = self._query(
                "SELECT boot, seq, ts_ms, temperature_c, humidity_pct FROM readings"
                " WHERE sent_ms IS NULL OR sent_ms < ? OR sent_ms > ?"
                " ORDER BY boot, seq LIMIT ?",
                (before, after, limit),
            )
            held = [
                Held(
                    room=self._rooms[pk],
                    boot_id=self._boot_ids[pk],
                    seq=seq,
                    ts=datetime.fromtimestamp(ts_ms / 1000, tz=UTC),
                    temperature_c=temperature,
                    humidity_pct=humidity,
                )
                for pk, seq, ts_ms, temperature, humidity in rows
            ]
            fresh = [h for h in held if h.seq > self._mark(h.boot_id)]
            if len(fresh) == len(held):
                break
            self.prune()  # confirmed readings stood in the way: let them go, ask again
        return fresh

    def floor(self, limit: int = FLOOR_BOOTS) -> dict[str, int]:
        """Per boot still held, oldest boots first: the lowest seq it will ever (re)send.

        Everything below was confirmed, dropped by the cap, or never written here (taken
        while the outbox was failing), so the hub may count past a hole below it.
        """
        # One primary-key probe per boot, not a scan of every reading held.
        rows = self._query(
            "SELECT boot_id, lo FROM (SELECT id, boot_id,"
            " (SELECT min(seq) FROM readings WHERE readings.boot = boots.id) AS lo FROM boots)"
            " WHERE lo IS NOT NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return {str(boot_id): int(seq) for boot_id, seq in rows}

    def rooms(self) -> set[str]:
        """Every room a held reading or event belongs to (the room setting may have changed)."""
        return {
            str(row[0])
            for row in self._query("SELECT room FROM boots UNION SELECT room FROM events", ())
        }

    def taken(self) -> dict[str, int]:
        """Per boot, the last seq taken: the boot's readings are seq 0 up to it."""
        return {str(b): int(s) for b, s in self._query("SELECT boot_id, last_seq FROM boots", ())}

    def dropped_ranges(self) -> list[tuple[str, int, int]]:
        """(boot id, first seq, last seq) of each run of readings the cap dropped."""
        rows = self._query(
            "SELECT boots.boot_id, lo, hi FROM dropped JOIN boots ON boots.id = dropped.boot"
            " ORDER BY dropped.boot, lo",
            (),
        )
        return [(str(b), int(lo), int(hi)) for b, lo, hi in rows]

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            raise OutboxError(f"outbox {self.path} is closed")
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc


def open_outbox(path: Path, cap: int, *, max_pages: int | None = None) -> Outbox:
    """Open the outbox; a corrupt file is moved aside (kept for a post-mortem) and a fresh
    one started, because a file SQLite cannot read will not heal by retrying."""
    try:
        return Outbox(path, cap, max_pages=max_pages)
    except OutboxError as exc:
        if not exc.corrupt:
            raise
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
        except OSError as move:
            raise OutboxError(f"{exc}; cannot move it aside: {move}") from exc
        outbox = Outbox(path, cap, max_pages=max_pages)
        outbox.quarantined = aside
        return outbox
