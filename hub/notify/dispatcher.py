"""Push delivery that never slows ingest: a persistent outbox and a background dispatcher.

A push is written to the `pushes` table of the hub's SQLite file before anything is sent,
so a hub restart loses none. The thread that queues pushes starts their sends the moment
they are committed; a dispatcher thread sends whatever else is due (retries, held pushes,
pushes left from before a restart). Each send runs in its own thread so a hanging channel
delays only itself; failures retry with backoff, and each channel stays under an hourly
limit that severity upgrades may pass.
Apprise URLs carry secrets (tokens, passwords, private topics): logs and errors show them
only as `scheme://host`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote

from hub.monitor import messages
from hub.monitor.messages import PRIORITIES, Message, Priority
from hub.store.database import from_ms, to_ms
from hub.store.dbfile import create_private

if TYPE_CHECKING:
    import apprise  # imported on the first send: a hub that never pushes never loads it

log = logging.getLogger("nursery.hub.notify")

Clock = Callable[[], datetime]
HOUR = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotifyError(Exception):
    """Root of the delivery errors."""


class DeliveryError(NotifyError):
    """One push could not be delivered; the message names the channel without secrets."""


class OutboxError(NotifyError):
    """The outbox table cannot be read or written; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class Action:
    """A button on the push that makes an HTTP POST (acknowledge, snooze).

    `clear` dismisses the notification once tapped (ntfy), right for "I'm on it".
    """

    label: str
    url: str
    clear: bool = False

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError("an action needs a label")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("an action URL must be http:// or https://")


@dataclass(frozen=True, slots=True)
class Push:
    """One message for one channel (one Apprise URL), as stored in the outbox."""

    id: int
    url: str
    message: Message
    incident_id: int | None = None
    actions: tuple[Action, ...] = ()
    bypass_rate_limit: bool = False
    attempts: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewPush:
    """A push to store: one message for one channel, not yet in the outbox."""

    url: str
    message: Message
    incident_id: int | None = None
    actions: tuple[Action, ...] = ()
    bypass_rate_limit: bool = False

    def __post_init__(self) -> None:
        if not self.url.strip():
            raise ValueError("a push needs an Apprise URL")


# Told about pushes right after their commit (the dispatcher starts sending them).
Committed = Callable[[Sequence[Push]], None]


class PushSender(Protocol):
    def send(self, push: Push) -> None:
        """Deliver the push or raise DeliveryError."""


# --- redaction -----------------------------------------------------------------------

_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9-]{1,63})+$")
_URL_IN_TEXT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _hostname(url: str) -> str:
    rest = url.partition("://")[2]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.partition(":")[0]


def _looks_like_host(host: str) -> bool:
    """A real host name or address, not a token in the host position (tgram://TOKEN/…)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.lower() == "localhost" or bool(_HOST_RE.match(host.lower()))
    return True


def redact_url(url: str) -> str:
    """`scheme://host #abc123` for logs: the host only when it is one, plus a short
    fingerprint so two channels on one service can be told apart."""
    scheme, sep, _ = url.partition("://")
    fingerprint = hashlib.sha256(url.encode()).hexdigest()[:6]
    if not sep:
        return f"<not a URL> #{fingerprint}"
    host = _hostname(url)
    shown = host if _looks_like_host(host) else "…"
    return f"{scheme.lower()}://{shown} #{fingerprint}"


def _secrets_of(url: str) -> list[str]:
    """The parts of an Apprise URL that may be secret, longest first."""
    rest = url.partition("://")[2]
    netloc, _, tail = rest.partition("/")
    userinfo, at, _ = netloc.rpartition("@")
    parts = [unquote(p) for p in re.split(r"[:]", userinfo)] if at else []
    host_name = _hostname(url)
    if not _looks_like_host(host_name):
        parts.append(host_name)
    path, _, query = tail.partition("?")
    parts += [unquote(p) for p in re.split(r"[/#]", path)]
    parts += [unquote(kv.partition("=")[2]) for kv in query.split("&")]
    return sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    """An error text without the channel's secrets or any full URL."""
    text = _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)).split(" #")[0], text)
    for secret in _secrets_of(url):
        text = text.replace(secret, "…")
    return text[:300]


# --- sending -------------------------------------------------------------------------

# Apprise's priority names per URL scheme; the message's priority replaces any in the URL.
# Pushover's "emergency" repeats until acknowledged in its own app, which our own
# acknowledge button could not stop, so urgent maps to "high" there.
_PRIORITY_PARAM: dict[str, dict[Priority, str]] = {
    "ntfy": {"low": "low", "default": "default", "high": "high", "urgent": "max"},
    "gotify": {"low": "low", "default": "normal", "high": "high", "urgent": "emergency"},
    "pover": {"low": "moderate", "default": "normal", "high": "high", "urgent": "high"},
}
_SCHEME_FAMILY = {"ntfys": "ntfy", "gotifys": "gotify"}


def _with_params(url: str, params: dict[str, str], drop: Sequence[str] = ()) -> str:
    """The URL with these query parameters set (and `drop` removed), the rest of the
    query kept byte for byte: re-encoding it could change a token."""
    base, _, query = url.partition("?")
    replaced = set(params) | set(drop)
    kept = [
        segment
        for segment in query.split("&")
        if segment and unquote(segment.partition("=")[0]).lower() not in replaced
    ]
    added = [f"{key}={quote(value, safe='')}" for key, value in params.items()]
    return base + "?" + "&".join(kept + added)


def _query_value(url: str, key: str) -> str | None:
    query = url.partition("?")[2]
    for segment in query.split("&"):
        name, _, value = segment.partition("=")
        if unquote(name).lower() == key:
            return unquote(value)
    return None


def _ntfy_actions(actions: Sequence[Action]) -> str:
    """ntfy's JSON action format: unlike the simple one it survives commas in URLs and
    non-ASCII labels (escaped), and ntfy reads it from the same header."""
    return json.dumps(
        [
            {"action": "http", "label": a.label, "url": a.url, "method": "POST", "clear": a.clear}
            for a in actions
        ]
    )


class ApprisePushSender:
    """Sends one push through Apprise, in the calling thread, with socket timeouts.

    The Apprise object for each URL actually sent (priority, tags and buttons included) is
    built once and kept, the last `keep` of them: building one took 0.3–0.4 ms of a
    1.3–1.5 ms send on the development machine (until the receiver had the body). Apprise's
    own throttle is off on them (a reused object would wait up to 5.5 s between two sends
    to one service); the dispatcher paces each channel itself. ntfy pushes with buttons
    carry signed links in their URL, so each of those is built afresh. `timeout_s` bounds
    connecting and each read; a hung DNS lookup can still take longer, which is why the
    dispatcher runs each channel in its own thread.
    """

    def __init__(self, timeout_s: float = 10.0, keep: int = 32) -> None:
        self.timeout_s = timeout_s
        self.keep = keep
        self._asset: apprise.AppriseAsset | None = None  # made with the first notifier
        # Prepared URL → its Apprise object. One send per channel at a time (the
        # dispatcher's rule) means one user per object; the lock guards the dict only.
        self._notifiers: OrderedDict[str, apprise.Apprise] = OrderedDict()
        self._notifiers_lock = threading.Lock()

    def prepare(self, push: Push) -> tuple[str, str]:
        """The Apprise URL and body actually sent: priority, tags and buttons added."""
        url, body = push.url, push.message.body
        scheme = url.partition("://")[0].lower()
        family = _SCHEME_FAMILY.get(scheme, scheme)
        params: dict[str, str] = {}
        drop: list[str] = []
        if family in _PRIORITY_PARAM:
            params["priority"] = _PRIORITY_PARAM[family][push.message.priority]
        if family == "ntfy":
            user_tags = _query_value(url, "xtags") or _query_value(url, "tags") or ""
            tags = [t for t in user_tags.split(",") if t] + list(push.message.tags)
            if tags:
                params["xtags"] = ",".join(dict.fromkeys(tags))
                drop.append("tags")  # the legacy spelling; xtags now carries both
            if push.actions:
                params["actions"] = _ntfy_actions(push.actions)
        elif push.actions:
            body = messages.with_links(body, [(a.label, a.url) for a in push.actions])
        if params:
            url = _with_params(url, params, drop)
        return url, body

    def _notifier(self, url: str, where: str) -> apprise.Apprise:
        """The Apprise object for this prepared URL: the kept one, or a new one kept.

        Only the URL's own Apprise plugin is imported (hub.notify.apprise_plugins), not all of
        them: some 20 MiB less on a Pi.
        """
        import apprise

        from hub.notify.apprise_plugins import service as apprise_service

        with self._notifiers_lock:
            notifier = self._notifiers.get(url)
            if notifier is not None:
                self._notifiers.move_to_end(url)
                return notifier
            if self._asset is None:
                self._asset = apprise.AppriseAsset(
                    service_timeout=0,  # no Apprise worker pool: the caller owns the thread
                    storage_mode=apprise.PersistentStoreMode.MEMORY,  # nothing on the SD card
                    result_log_disk_size=0,
                )
            asset = self._asset
        try:
            service = apprise_service(url, asset)
        except Exception as exc:  # a plugin may raise on a malformed URL
            raise DeliveryError(
                f"{where}: not a usable Apprise URL ({type(exc).__name__})"
            ) from exc
        if service is None:
            raise DeliveryError(f"{where}: not a valid Apprise URL")
        service.socket_connect_timeout = self.timeout_s
        service.socket_read_timeout = self.timeout_s
        service.request_rate_per_sec = 0  # no throttle of Apprise's own: see the class
        notifier = apprise.Apprise(asset=asset)
        notifier.add(service)
        with self._notifiers_lock:
            self._notifiers[url] = notifier
            while len(self._notifiers) > self.keep:
                self._notifiers.popitem(last=False)
        return notifier

    def send(self, push: Push) -> None:
        import apprise

        url, body = self.prepare(push)
        where = redact_url(push.url)
        notifier = self._notifier(url, where)
        urgent = push.message.priority in ("high", "urgent")
        try:
            result = notifier.notify(
                body=body,
                title=push.message.title,
                notify_type=apprise.NotifyType.WARNING if urgent else apprise.NotifyType.INFO,
            )
        except Exception as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {_scrub(str(exc), url)}") from exc
        if result:
            return
        problems = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
        reason = problems[-1] if problems else f"delivery failed ({result.status.name.lower()})"
        raise DeliveryError(f"{where}: {_scrub(reason, url)}")


class RecordingSender:
    """A fake sender for tests of code that enqueues: keeps every push it is given."""

    def __init__(self) -> None:
        self.sent: list[Push] = []
        self.fail_with: str | None = None
        self._lock = threading.Lock()

    def send(self, push: Push) -> None:
        if self.fail_with is not None:
            raise DeliveryError(self.fail_with)
        with self._lock:
            self.sent.append(push)


# --- the outbox ----------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'default', 'high', 'urgent')),
    tags TEXT NOT NULL,
    actions TEXT NOT NULL,
    incident_id INTEGER,
    bypass_rate_limit INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    sent_at_ms INTEGER,
    last_error TEXT,
    last_error_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS pushes_pending ON pushes (url, id) WHERE sent_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS pushes_due ON pushes (next_attempt_ms) WHERE sent_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS pushes_sent ON pushes (url, sent_at_ms) WHERE sent_at_ms IS NOT NULL;
"""


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
            self._db.executescript(_SCHEMA)
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


# --- the dispatcher ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """For /healthz and the dashboard: is anything stuck, and why."""

    pending: int
    last_error: str | None
    last_error_at: datetime | None
    sent_last_hour: int
    failing: bool  # some push still waiting has already failed at least once


class Dispatcher:
    """Sends due pushes from the outbox in the background.

    Pushes just committed are handed over in memory (`wake(pushes)`) and start at once in
    the caller's thread; one dispatcher thread reads the outbox for the rest: at start, on
    `wake()`, when a send ends, when a retry falls due, every `poll_s` while the hourly
    limit holds a push back, and otherwise once an hour (to prune), so an idle hub does
    not poll its database. Each send runs in a thread of its
    own with at most one send per channel at a time, so a channel that hangs holds up only
    its own pushes. Failures retry after `retry_base_s`, doubling up to `retry_max_s`. Each
    channel gets at most `max_per_hour` pushes per rolling hour; pushes over it wait (never
    dropped) unless they bypass the limit.
    """

    def __init__(
        self,
        outbox: PushOutbox,
        sender: PushSender,
        clock: Clock = utc_now,
        max_per_hour: int = 6,
        *,
        poll_s: float = 1.0,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
        late_after: timedelta = timedelta(minutes=2),
        keep_sent: timedelta = timedelta(days=7),
        batch: int = 100,
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.max_per_hour = max_per_hour
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.late_after = late_after
        self.keep_sent = keep_sent
        self.batch = batch
        self.delivered_total = 0  # since start, for /metrics
        self.failed_total = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        # Held while reading what is due and claiming channels, by the loop or by wake():
        # a push is never read as due by one while the other is starting it.
        self._launching = threading.Lock()
        self._pruned_at: datetime | None = None

    # --- lifecycle ---

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="push-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling at once; give sends under way up to `timeout` s to record a result.

        A send still running after that is recorded when it ends, or, if the outbox is
        closed by then, sent again after the next start (a duplicate rather than a loss).
        """
        self._stop.set()
        self._wake.set()
        with self._launching:
            pass  # a launch under way has registered its sends; no new one starts
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            sends = list(self._in_flight.values())
        deadline = time.monotonic() + timeout
        for thread in sends:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self, pushes: Sequence[Push] = ()) -> None:
        """Look at the outbox now rather than at the next poll.

        Given pushes just committed, start their sends here and now, in the caller's
        thread: no hand-over to the dispatcher thread, and no reading of the whole outbox,
        only a due check on these ids (so channel order and the hourly limit hold exactly
        as in the loop). Never raises: what it cannot start, the loop will.
        """
        if not pushes or self._thread is None or self._stop.is_set():
            self._wake.set()
            return
        ids = [push.id for push in pushes]
        among = (min(ids), max(ids))
        try:
            _, held = self._launch(lambda now: self.outbox.due(now, self.batch, among=among))
            if held:
                self._wake.set()  # the loop looks again every poll_s until the hour allows
        except Exception:
            log.exception("push dispatcher: cannot start new pushes at once; the loop will")
            self._wake.set()

    def enqueue(
        self,
        url: str,
        message: Message,
        *,
        incident_id: int | None = None,
        actions: Sequence[Action] = (),
        bypass_rate_limit: bool = False,
    ) -> int:
        """Store a push and start sending it; returns without waiting for delivery."""
        new = NewPush(url, message, incident_id, tuple(actions), bypass_rate_limit)
        (push,) = self.outbox.enqueue_many([new], now=self.clock(), committed=self.wake)
        return push.id

    def health(self) -> DeliveryHealth:
        stats = self.outbox.stats(self.clock())
        return DeliveryHealth(
            pending=stats.pending,
            last_error=stats.last_error,
            last_error_at=stats.last_error_at,
            sent_last_hour=stats.sent_last_hour,
            failing=stats.failed_attempts > 0,
        )

    # --- the loop ---

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait_s = self.poll_s
            try:
                wait_s = self._tick()
            except Exception:
                log.exception("push dispatcher: cannot read the outbox; retrying")
            self._wake.wait(wait_s)

    def _tick(self) -> float:
        """Start the sends that are due; returns how long to wait before looking again
        (unless woken: a new push, a send ending)."""
        now, held = self._launch(lambda now: self.outbox.due(now, self.batch))
        if self._pruned_at is None or now - self._pruned_at >= HOUR:
            self._pruned_at = now
            self.outbox.prune(now - self.keep_sent)
        wait_s = (self._pruned_at + HOUR - now).total_seconds()
        if held:
            wait_s = min(wait_s, self.poll_s)  # until the hour lets it go
        upcoming = self.outbox.next_attempt_after(now)
        if upcoming is not None:
            wait_s = min(wait_s, (upcoming - now).total_seconds())
        return max(0.01, wait_s)

    def _launch(self, due: Callable[[datetime], list[Push]]) -> tuple[datetime, bool]:
        """Start a send for each push `due` returns whose channel is free and under its
        hourly limit; returns the time it went by, and whether the limit held one back."""
        held = False
        with self._launching:
            now = self.clock()
            for push in due(now):
                if self._stop.is_set():
                    break
                with self._lock:
                    if push.url in self._in_flight:
                        continue
                if not push.bypass_rate_limit:
                    sent = self.outbox.sent_count(push.url, now - HOUR)
                    if sent >= self.max_per_hour:
                        log.debug(
                            "push %d held: hourly limit for %s", push.id, redact_url(push.url)
                        )
                        held = True
                        continue
                thread = threading.Thread(
                    target=self._deliver, args=(push,), name=f"push-{push.id}", daemon=True
                )
                with self._lock:
                    self._in_flight[push.url] = thread
                thread.start()
        return now, held

    def _deliver(self, push: Push) -> None:
        error: str | None = None
        try:
            self.sender.send(self._late(push))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("push %d: unexpected error in the sender", push.id)
            error = f"{redact_url(push.url)}: unexpected {type(exc).__name__}"
        now = self.clock()
        try:
            if error is None:
                self.outbox.delivered(push.id, now)
                log.info("push %d delivered to %s", push.id, redact_url(push.url))
            else:
                delay = min(self.retry_max_s, self.retry_base_s * 2**push.attempts)
                self.outbox.failed(push.id, now, error, now + timedelta(seconds=delay))
                log.warning(
                    "push %d failed (attempt %d), retry in %g s: %s",
                    push.id,
                    push.attempts + 1,
                    delay,
                    error,
                )
        except (OutboxError, sqlite3.ProgrammingError) as exc:
            log.warning("push %d: cannot record the outcome (%s); it will be retried", push.id, exc)
        finally:
            with self._lock:
                self._in_flight.pop(push.url, None)
                if error is None:
                    self.delivered_total += 1
                else:
                    self.failed_total += 1
            self._wake.set()

    def _late(self, push: Push) -> Push:
        """Say so when a push goes out late, so old numbers are not read as current."""
        if push.created_at is None:
            return push
        age = self.clock() - push.created_at
        if age < self.late_after:
            return push
        return replace(push, message=messages.sent_late(push.message, age))
