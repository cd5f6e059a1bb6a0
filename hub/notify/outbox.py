"""The persistent push outbox: the `pushes` table in the hub's SQLite file (own connection)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hub.messages import PRIORITIES, Message, Priority
from hub.notify.push import Action, Committed, NewPush, OutboxError, Push
from hub.store.database import from_ms, to_ms
from hub.store.dbfile import create_private
from hub.store.migrations import migrate

log = logging.getLogger("nursery.hub.notify")

HOUR = timedelta(hours=1)


_INSERT_PUSH = (
    "INSERT INTO pushes (created_at_ms, url, title, body, priority, tags, actions,"
    " incident_id, bypass_rate_limit, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# Per channel, only the oldest unsent push may go (so "back to normal" never overtakes the
# alert it ends), except that the oldest bypass push may pass a head held by the hourly
# limit or by its own backoff. {among} narrows the candidates to an id range (pushes just
# committed) without changing which of them count as due.
_DUE_SQL_TEMPLATE = """
SELECT id, url, title, body, priority, tags, actions, incident_id, bypass_rate_limit,
    attempts, created_at_ms
FROM pushes AS p
WHERE p.sent_at_ms IS NULL AND p.next_attempt_ms <= :now {among} AND (
    p.id = (SELECT min(q.id) FROM pushes AS q WHERE q.url = p.url AND q.sent_at_ms IS NULL)
    OR (p.bypass_rate_limit = 1 AND p.id = (
        SELECT min(q.id) FROM pushes AS q
        WHERE q.url = p.url AND q.sent_at_ms IS NULL AND q.bypass_rate_limit = 1))
)
ORDER BY p.bypass_rate_limit DESC, p.next_attempt_ms, p.id
LIMIT :limit
"""
_DUE_SQL = _DUE_SQL_TEMPLATE.format(among="")
_DUE_AMONG_SQL = _DUE_SQL_TEMPLATE.format(among="AND p.id BETWEEN :first AND :last")


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    failed_attempts: int  # failed attempts of pushes still pending
    last_error: str | None
    last_error_at: datetime | None
    sent_last_hour: int


class PushOutbox:
    """The `pushes` table in the hub's SQLite file, on a connection of its own.

    Its own connection so a push is committed at once, never waiting for (or riding on)
    the store's reading batches. Every write that matters survives a power cut before the
    method returns, as with synchronous=FULL; but the connection runs WAL with
    synchronous=NORMAL and fsyncs the WAL itself, so that pushes just committed can be
    handed to the dispatcher *before* that fsync and start sending while the disk catches
    up (docs/alerts.md, "Durability").
    """

    def __init__(self, db_path: Path | str) -> None:
        self.path = Path(db_path)
        self._lock = threading.Lock()
        try:
            # The store normally creates it; if not, keep it private as the store would.
            create_private(self.path)
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, timeout=5, isolation_level=None
            )
            # The store puts the file in WAL mode; set it here too for an outbox alone.
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._wal = str(mode).lower() == "wal"
            # Without WAL (a file system that cannot share memory) every commit syncs.
            self._db.execute(f"PRAGMA synchronous={'NORMAL' if self._wal else 'FULL'}")
            migrate(self._db)  # the tables (all of the file's), made or upgraded first
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the push outbox in {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PushOutbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise OutboxError(f"push outbox in {self.path}: {exc}") from exc

    def sync(self) -> None:
        """Make every commit so far survive a power cut: fsync the WAL.

        Outside the lock, as the store's own sync: fsync does not touch the connection, so
        a send may record its outcome meanwhile. One fsync covers the store's commits too
        (the incident just saved, the reading that opened it): they share the WAL.
        """
        if not self._wal:
            return  # synchronous=FULL: each commit synced itself
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # no WAL: everything is in the database file, synced at checkpoint
        except OSError as exc:
            raise OutboxError(f"cannot sync the push outbox in {self.path}: {exc}") from exc
        try:
            os.fsync(fd)
        except OSError as exc:
            raise OutboxError(f"cannot sync the push outbox in {self.path}: {exc}") from exc
        finally:
            os.close(fd)

    def _sync_or_log(self, what: str) -> None:
        """Sync, and when the disk refuses, say so and go on: the rows are committed and
        will be sent (or stay recorded) as long as the power holds; refusing would not
        help anyone."""
        try:
            self.sync()
        except OutboxError as exc:
            log.error("%s, but a power cut could undo it: %s", what, exc)

    def enqueue(
        self,
        url: str,
        message: Message,
        *,
        incident_id: int | None = None,
        actions: Sequence[Action] = (),
        bypass_rate_limit: bool = False,
        now: datetime,
    ) -> int:
        """Store one push for sending; returns its id (see enqueue_many)."""
        new = NewPush(url, message, incident_id, tuple(actions), bypass_rate_limit)
        return self.enqueue_many([new], now=now)[0].id

    def enqueue_many(
        self, pushes: Sequence[NewPush], *, now: datetime, committed: Committed | None = None
    ) -> list[Push]:
        """Store pushes for sending in one commit; returns them with their ids once they
        survive a power cut. No network.

        `committed` gets them right after the commit and before the fsync, so their sends
        can start while the disk catches up: a push may reach a phone a moment before it
        is safe from a power cut, never the other way round.
        """
        if not pushes:
            return []
        created = to_ms(now)
        with self._use() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                ids = [
                    int(db.execute(_INSERT_PUSH, _row(p, created)).lastrowid or 0) for p in pushes
                ]
                db.execute("COMMIT")
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        stored = [
            Push(
                push_id,
                p.url,
                p.message,
                p.incident_id,
                p.actions,
                p.bypass_rate_limit,
                0,
                from_ms(created),
            )
            for push_id, p in zip(ids, pushes, strict=True)
        ]
        try:
            if committed is not None:
                committed(stored)
        finally:
            self._sync_or_log(f"{len(stored)} push(es) queued")
        return stored

    def due(
        self, now: datetime, limit: int = 100, *, among: tuple[int, int] | None = None
    ) -> list[Push]:
        """Pushes to try now, at most one regular and one bypass push per channel, in order;
        `among` (first id, last id) looks only at those, by the same rule."""
        params: dict[str, int] = {"now": to_ms(now), "limit": limit}
        sql = _DUE_SQL
        if among is not None:
            sql = _DUE_AMONG_SQL
            params["first"], params["last"] = among
        with self._use() as db:
            rows = db.execute(sql, params).fetchall()
        return [_push(row) for row in rows]

    def delivered(self, push_id: int, at: datetime) -> None:
        """Record a delivery, durably: a delivery forgotten in a power cut is sent twice."""
        with self._use() as db:
            db.execute(
                "UPDATE pushes SET sent_at_ms = ?, attempts = attempts + 1"
                " WHERE id = ? AND sent_at_ms IS NULL",
                (to_ms(at), push_id),
            )
        self._sync_or_log(f"push {push_id} recorded as delivered")

    def failed(self, push_id: int, at: datetime, error: str, retry_at: datetime) -> None:
        with self._use() as db:
            db.execute(
                "UPDATE pushes SET attempts = attempts + 1, next_attempt_ms = ?,"
                " last_error = ?, last_error_at_ms = ? WHERE id = ? AND sent_at_ms IS NULL",
                (to_ms(retry_at), error[:500], to_ms(at), push_id),
            )
        self._sync_or_log(f"failed attempt of push {push_id} recorded")

    def sent_count(self, url: str, since: datetime) -> int:
        """Pushes delivered to this channel since then that count toward the hourly limit
        (bypass pushes neither wait for it nor use it up)."""
        with self._use() as db:
            row = db.execute(
                "SELECT count(*) FROM pushes"
                " WHERE url = ? AND sent_at_ms >= ? AND bypass_rate_limit = 0",
                (url, to_ms(since)),
            ).fetchone()
        return int(row[0])

    def next_attempt_after(self, now: datetime) -> datetime | None:
        """When the next push in backoff becomes due, so the dispatcher can wake for it."""
        with self._use() as db:
            row = db.execute(
                "SELECT min(next_attempt_ms) FROM pushes"
                " WHERE sent_at_ms IS NULL AND next_attempt_ms > ?",
                (to_ms(now),),
            ).fetchone()
        return None if row[0] is None else from_ms(int(row[0]))

    def stats(self, now: datetime) -> OutboxStats:
        with self._use() as db:
            pending, failed = db.execute(
                "SELECT count(*), coalesce(sum(attempts), 0) FROM pushes WHERE sent_at_ms IS NULL"
            ).fetchone()
            last = db.execute(
                "SELECT last_error, last_error_at_ms FROM pushes"
                " WHERE last_error_at_ms IS NOT NULL ORDER BY last_error_at_ms DESC LIMIT 1"
            ).fetchone()
            sent = db.execute(
                "SELECT count(*) FROM pushes WHERE sent_at_ms >= ?", (to_ms(now - HOUR),)
            ).fetchone()[0]
        return OutboxStats(
            pending=int(pending),
            failed_attempts=int(failed),
            last_error=None if last is None else str(last[0]),
            last_error_at=None if last is None else from_ms(int(last[1])),
            sent_last_hour=int(sent),
        )

    def prune(self, before: datetime) -> int:
        """Forget pushes delivered before then; pending ones are never dropped."""
        with self._use() as db:
            cursor = db.execute(
                "DELETE FROM pushes WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ?",
                (to_ms(before),),
            )
            return cursor.rowcount


def _row(push: NewPush, created_ms: int) -> tuple[object, ...]:
    """The INSERT parameters of a new push, due at once."""
    actions = [{"label": a.label, "url": a.url, "clear": a.clear} for a in push.actions]
    return (
        created_ms,
        push.url,
        push.message.title,
        push.message.body,
        push.message.priority,
        json.dumps(list(push.message.tags)),
        json.dumps(actions),
        push.incident_id,
        int(push.bypass_rate_limit),
        created_ms,
    )


def _priority(value: str) -> Priority:
    if value not in PRIORITIES:
        raise OutboxError(f"push has an unknown priority {value!r}")
    return value


def _push(row: tuple[object, ...]) -> Push:
    (push_id, url, title, body, priority, tags, actions, incident_id, bypass, attempts, created) = (
        row
    )
    return Push(
        id=int(str(push_id)),
        url=str(url),
        message=Message(
            title=str(title),
            body=str(body),
            priority=_priority(str(priority)),
            tags=tuple(json.loads(str(tags))),
        ),
        incident_id=None if incident_id is None else int(str(incident_id)),
        actions=tuple(
            Action(a["label"], a["url"], bool(a.get("clear"))) for a in json.loads(str(actions))
        ),
        bypass_rate_limit=bool(bypass),
        attempts=int(str(attempts)),
        created_at=from_ms(int(str(created))),
    )
