"""Lock-outs after wrong passwords, kept per sign-in name and client address, and a
throttle per address."""

from __future__ import annotations

import hashlib
import ipaddress
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.store.schema import LOCKOUT_TABLES

# Its table is made with all the others (hub/store/schema.py); a bare test database
# takes it from there.
LOCKOUT_SCHEMA = LOCKOUT_TABLES

# A lock is at most this many times the first one (15 min -> 4 h with the defaults).
CAP_FACTOR = 16
# Failures are forgotten after this long without one (or twice the cap, if longer).
FORGET_AFTER = timedelta(days=1)
# Rows kept at most: a flood of made-up names must not grow the file without end.
MAX_ROWS = 10_000


def client_key(host: str) -> str:
    """The address a lock or throttle is kept for: an IPv4 address as it is (also when
    mapped into IPv6), an IPv6 one by its /64 network, which a single device can fill with
    fresh addresses at will."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64] or "?"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _name_key(name: str) -> str:
    """A digest of the name as typed (folded): what a stranger types there, perhaps a
    password in the wrong field, is never stored."""
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """How many wrong passwords open a lock, and how long each lock lasts (pure)."""

    max_failures: int
    first_lock: timedelta

    @property
    def cap(self) -> timedelta:
        return self.first_lock * CAP_FACTOR

    @property
    def forget_after(self) -> timedelta:
        return max(FORGET_AFTER, 2 * self.cap)

    def lock_for(self, failures: int) -> timedelta | None:
        """The lock after `failures` wrong passwords in a row: none below max_failures,
        then the first lock, doubling with each further one up to the cap."""
        if failures < self.max_failures:
            return None
        doublings = min(failures - self.max_failures, CAP_FACTOR.bit_length())
        longer: timedelta = self.first_lock * (1 << doublings)
        return min(longer, self.cap)


class LoginLockout:
    """The lock-outs in the hub's database, on the connection (and under the lock) of
    its accounts. Each method runs inside the caller's transaction where it writes."""

    def __init__(self, policy: LockPolicy, max_rows: int = MAX_ROWS) -> None:
        self.policy = policy
        self._max_rows = max_rows

    def locked_until(
        self, db: sqlite3.Connection, name: str, address: str, now: datetime
    ) -> datetime | None:
        row = db.execute(
            "SELECT locked_until_ms FROM login_failures WHERE name_digest = ? AND address = ?",
            (_name_key(name), address),
        ).fetchone()
        if row is None or row[0] is None or int(row[0]) <= _ms(now):
            return None
        return _dt(int(row[0]))

    def failed(
        self, db: sqlite3.Connection, name: str, address: str, now: datetime
    ) -> datetime | None:
        """Count a wrong password (or an unknown name); the end of the lock it opens."""
        key, now_ms = _name_key(name), _ms(now)
        forget_ms = now_ms - int(self.policy.forget_after.total_seconds() * 1000)
        row = db.execute(
            "SELECT failures, last_ms FROM login_failures WHERE name_digest = ? AND address = ?",
            (key, address),
        ).fetchone()
        failures = int(row[0]) + 1 if row is not None and int(row[1]) >= forget_ms else 1
        lock = self.policy.lock_for(failures)
        until = now + lock if lock is not None else None
        db.execute(
            "INSERT INTO login_failures "
            "(name_digest, address, failures, last_ms, locked_until_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name_digest, address) DO UPDATE SET "
            "failures = excluded.failures, last_ms = excluded.last_ms, "
            "locked_until_ms = excluded.locked_until_ms",
            (key, address, failures, now_ms, _ms(until) if until else None),
        )
        self._prune(db, now_ms, forget_ms)
        return until

    def _prune(self, db: sqlite3.Connection, now_ms: int, forget_ms: int) -> None:
        db.execute(
            "DELETE FROM login_failures WHERE last_ms < ? "
            "AND (locked_until_ms IS NULL OR locked_until_ms <= ?)",
            (forget_ms, now_ms),
        )
        (rows,) = db.execute("SELECT count(*) FROM login_failures").fetchone()
        if int(rows) > self._max_rows:
            db.execute(
                "DELETE FROM login_failures WHERE (name_digest, address) IN "
                "(SELECT name_digest, address FROM login_failures ORDER BY last_ms LIMIT ?)",
                (int(rows) - self._max_rows,),
            )

    def succeeded(self, db: sqlite3.Connection, name: str, address: str) -> None:
        db.execute(
            "DELETE FROM login_failures WHERE name_digest = ? AND address = ?",
            (_name_key(name), address),
        )

    def forget(self, db: sqlite3.Connection, name: str) -> None:
        """Every lock and count for `name`, from every address (a new password)."""
        db.execute("DELETE FROM login_failures WHERE name_digest = ?", (_name_key(name),))


class Throttle:
    """At most `limit` attempts per `window_s` per key (a client address): slows a
    password-guessing script across many names, which the per-name lock cannot."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window_s = window_s
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        with self._lock:
            if len(self._seen) > 10000:  # a flood of addresses must not grow memory
                self._seen.clear()
            recent = [t for t in self._seen.get(key, []) if now - t < self._window_s]
            allowed = len(recent) < self._limit
            if allowed:
                recent.append(now)
            self._seen[key] = recent
            return allowed
