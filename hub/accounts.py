"""Caregivers, their passwords, login sessions and API tokens, in the hub's SQLite file.

Passwords are hashed with Argon2id (the OWASP minimum parameters, which a Pi Zero 2 W
verifies in a fraction of a second). Session ids, CSRF tokens and API tokens are random;
only their SHA-256 is stored, so a copied database opens no doors. Repeated wrong
passwords lock the account for a while: a phone in the wrong hands cannot guess on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.dbfile import connect_private, write_transaction

Clock = Callable[[], datetime]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "nm_"  # noqa: S105  # marks our tokens, not a secret
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 '._-]{0,39}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS caregivers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    last_login_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER
);
"""


class AccountError(ValueError):
    """A name or password that cannot be used; `field` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LoginFailed(Exception):
    """Wrong name or password (deliberately not saying which)."""


class LockedOut(Exception):
    """Too many wrong passwords: the account opens again at `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many wrong passwords; try again after {until:%H:%M} UTC")
        self.until = until


@dataclass(frozen=True, slots=True)
class Caregiver:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Session:
    caregiver: Caregiver
    csrf: str
    expires_at: datetime


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise AccountError(
            "name",
            "name must be 1-40 letters, digits, spaces, or ' . _ -, starting with a "
            "letter or digit",
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            "password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("password", f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


class Accounts:
    """Every read and write of caregivers, sessions and tokens."""

    def __init__(
        self,
        path: Path,
        clock: Clock = lambda: datetime.now(UTC),
        *,
        session_ttl_s: float = 30 * 86400,
        max_failures: int = 5,
        lockout_s: float = 900,
    ) -> None:
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        self._clock = clock
        self._session_ttl = timedelta(seconds=session_ttl_s)
        self._max_failures = max_failures
        self._lockout = timedelta(seconds=lockout_s)
        self._lock = threading.Lock()
        self._db = connect_private(path)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._dummy_hash: str | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    # --- caregivers -------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM caregivers").fetchone()[0])

    def caregivers(self) -> list[Caregiver]:
        with self._lock:
            rows = self._db.execute("SELECT id, name FROM caregivers ORDER BY id").fetchall()
        return [Caregiver(int(r[0]), str(r[1])) for r in rows]

    def find(self, name: str) -> Caregiver | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name FROM caregivers WHERE name = ?", (name.strip(),)
            ).fetchone()
        return Caregiver(int(row[0]), str(row[1])) if row else None

    def add(self, name: str, password: str) -> Caregiver:
        """A new caregiver; AccountError when the name is taken or either field is bad."""
        name, password = check_name(name), check_password(password)
        hashed = self._hasher.hash(password)
        try:
            with self._tx() as db:
                cursor = db.execute(
                    "INSERT INTO caregivers (name, password_hash, created_ms) VALUES (?, ?, ?)",
                    (name, hashed, _ms(self._clock())),
                )
        except sqlite3.IntegrityError:
            raise AccountError("name", f"a caregiver named {name!r} already exists") from None
        return Caregiver(int(cursor.lastrowid or 0), name)

    def set_password(self, name: str, password: str) -> Caregiver:
        """Change a password (and unlock); every session of that caregiver ends."""
        caregiver = self._require(name)
        hashed = self._hasher.hash(check_password(password))
        with self._tx() as db:
            db.execute(
                "UPDATE caregivers SET password_hash = ?, failed_logins = 0, "
                "locked_until_ms = NULL WHERE id = ?",
                (hashed, caregiver.id),
            )
            db.execute("DELETE FROM sessions WHERE caregiver_id = ?", (caregiver.id,))
        return caregiver

    def _require(self, name: str) -> Caregiver:
        caregiver = self.find(name)
        if caregiver is None:
            raise AccountError("name", f"no caregiver named {name.strip()!r}")
        return caregiver

    # --- logging in -------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> Caregiver:
        """The caregiver when the password is right; LoginFailed or LockedOut otherwise."""
        now = self._clock()
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, password_hash, failed_logins, locked_until_ms "
                "FROM caregivers WHERE name = ?",
                (name.strip(),),
            ).fetchone()
        if row is None:
            # Verify against a throwaway hash, so an unknown name takes as long to refuse
            # as a wrong password and answers give no list of names away.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            self._verify(self._dummy_hash, password)
            raise LoginFailed
        caregiver_id, real_name, hashed, failures, locked_until = row
        if locked_until is not None and _ms(now) < int(locked_until):
            raise LockedOut(_dt(int(locked_until)))
        if not self._verify(str(hashed), password):
            failures = int(failures) + 1 if locked_until is None else 1
            lock = _ms(now + self._lockout) if failures >= self._max_failures else None
            with self._tx() as db:
                db.execute(
                    "UPDATE caregivers SET failed_logins = ?, locked_until_ms = ? WHERE id = ?",
                    (0 if lock else failures, lock, caregiver_id),
                )
            if lock is not None:
                raise LockedOut(_dt(lock))
            raise LoginFailed
        rehash = self._hasher.check_needs_rehash(str(hashed))
        with self._tx() as db:
            db.execute(
                "UPDATE caregivers SET failed_logins = 0, locked_until_ms = NULL, "
                "last_login_ms = ? WHERE id = ?",
                (_ms(now), caregiver_id),
            )
            if rehash:
                db.execute(
                    "UPDATE caregivers SET password_hash = ? WHERE id = ?",
                    (self._hasher.hash(password), caregiver_id),
                )
        return Caregiver(int(caregiver_id), str(real_name))

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # --- sessions ---------------------------------------------------------------------

    def new_session(self, caregiver: Caregiver) -> tuple[str, Session]:
        """A session id for the cookie, and the session with its CSRF token."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self._clock()
        expires = now + self._session_ttl
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_ms < ?", (_ms(now),))
            db.execute(
                "INSERT INTO sessions (id_hash, caregiver_id, csrf, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (_digest(session_id), caregiver.id, csrf, _ms(now), _ms(expires)),
            )
        return session_id, Session(caregiver, csrf, expires)

    def session(self, session_id: str) -> Session | None:
        """The live session for a cookie value; None when unknown or expired."""
        if not session_id or len(session_id) > 100:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT c.id, c.name, s.csrf, s.expires_ms FROM sessions s "
                "JOIN caregivers c ON c.id = s.caregiver_id WHERE s.id_hash = ?",
                (_digest(session_id),),
            ).fetchone()
        if row is None or int(row[3]) <= _ms(self._clock()):
            return None
        return Session(Caregiver(int(row[0]), str(row[1])), str(row[2]), _dt(int(row[3])))

    def end_session(self, session_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))

    # --- API tokens -------------------------------------------------------------------

    def new_token(self, name: str, label: str = "automation") -> str:
        """A new API token for the caregiver; shown once, only its hash is kept."""
        caregiver = self._require(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx() as db:
            db.execute(
                "INSERT INTO api_tokens (caregiver_id, token_hash, label, created_ms) "
                "VALUES (?, ?, ?, ?)",
                (caregiver.id, _digest(token), label[:60], _ms(self._clock())),
            )
        return token

    def token_caregiver(self, token: str) -> Caregiver | None:
        """Whose token this is; None when it is not one of ours."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = _digest(token)
        with self._lock:
            row = self._db.execute(
                "SELECT c.id, c.name, t.token_hash FROM api_tokens t "
                "JOIN caregivers c ON c.id = t.caregiver_id WHERE t.token_hash = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[2]), digest):
            return None
        return Caregiver(int(row[0]), str(row[1]))


class Throttle:
    """At most `limit` attempts per `window_s` per key (a client address): slows a
    password-guessing script across many accounts, which the per-account lock cannot."""

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
