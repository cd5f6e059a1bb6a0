"""Caregivers, their passwords, login sessions and API tokens, in the hub's SQLite file."""

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

from contract.errors import NurseryError
from hub.login_lockout import LockPolicy, LoginLockout
from hub.login_lockout import Throttle as Throttle  # where the routes' deps import it from
from hub.passwords import hasher, verify
from hub.store.dbfile import connect_private, write_transaction
from hub.store.disk_health import save_problem
from hub.store.migrations import migrate
from mqttlink.well_known_passwords import is_well_known

Clock = Callable[[], datetime]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "nm_"  # noqa: S105  # marks our tokens, not a secret
# A token's "last used" is written at most this often: not a write per API request.
LAST_USED_EVERY = timedelta(minutes=1)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 '._-]{0,39}$")


class AccountError(NurseryError, ValueError):
    """A name or password that cannot be used; `field` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LoginFailed(NurseryError):
    """Wrong name or password (deliberately not saying which)."""


class LockedOut(NurseryError):
    """Too many wrong passwords for a name from one address: it opens again at `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many wrong passwords; try again after {until:%H:%M} UTC")
        self.until = until


@dataclass(frozen=True, slots=True)
class Caregiver:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as `nursery token --list` shows it: never the secret itself."""

    id: int
    caregiver: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Session:
    caregiver: Caregiver
    csrf: str
    expires_at: datetime


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _maybe_dt(ms: int | None) -> datetime | None:
    return None if ms is None else _dt(ms)


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
    if is_well_known(password):
        raise AccountError(
            "password",
            "that password is well known: guessing tools try it first. Choose another "
            "(a few unrelated words make a good one)",
        )
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
        self._clock = clock
        self._session_ttl = timedelta(seconds=session_ttl_s)
        self._lockout = LoginLockout(LockPolicy(max_failures, timedelta(seconds=lockout_s)))
        self._lock = threading.Lock()
        self._db = connect_private(path)
        self._db.execute("PRAGMA foreign_keys=ON")
        migrate(self._db)  # the tables (all of the file's), made or upgraded first
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
        hashed = hasher().hash(password)
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
        """Change a password and lift every lock on the name. Every session and API token
        of that caregiver ends: whoever knew the old password may have made one."""
        caregiver = self._require(name)
        hashed = hasher().hash(check_password(password))
        with self._tx() as db:
            db.execute(
                "UPDATE caregivers SET password_hash = ? WHERE id = ?", (hashed, caregiver.id)
            )
            db.execute("DELETE FROM sessions WHERE caregiver_id = ?", (caregiver.id,))
            db.execute("DELETE FROM api_tokens WHERE caregiver_id = ?", (caregiver.id,))
            self._lockout.forget(db, caregiver.name)
        return caregiver

    def _require(self, name: str) -> Caregiver:
        caregiver = self.find(name)
        if caregiver is None:
            raise AccountError("name", f"no caregiver named {name.strip()!r}")
        return caregiver

    # --- logging in -------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, address: str) -> Caregiver:
        """The caregiver when the password is right; LoginFailed or LockedOut otherwise.

        `address` is the client's (hub/login_lockout.py's client_key). A wrong password and
        an unknown name take the same path: one Argon2 verify (against a throwaway hash for
        an unknown name), one failure counted for that name and address, the same answer.
        """
        now = self._clock()
        if self._dummy_hash is None:  # made on the first try, whatever the name
            self._dummy_hash = hasher().hash(secrets.token_urlsafe(16))
        with self._lock:
            until = self._lockout.locked_until(self._db, name, address, now)
            row = self._db.execute(
                "SELECT id, name, password_hash FROM caregivers WHERE name = ?", (name.strip(),)
            ).fetchone()
        if until is not None:
            raise LockedOut(until)
        hashed = str(row[2]) if row is not None else self._dummy_hash
        if not self._verify(hashed, password) or row is None:
            with self._tx() as db:
                until = self._lockout.failed(db, name, address, now)
            if until is not None:
                raise LockedOut(until)
            raise LoginFailed
        caregiver = Caregiver(int(row[0]), str(row[1]))
        rehash = hasher().check_needs_rehash(hashed)
        with self._tx() as db:
            self._lockout.succeeded(db, name, address)
            db.execute(
                "UPDATE caregivers SET last_login_ms = ? WHERE id = ?", (_ms(now), caregiver.id)
            )
            if rehash:
                db.execute(
                    "UPDATE caregivers SET password_hash = ? WHERE id = ?",
                    (hasher().hash(password), caregiver.id),
                )
        return caregiver

    def _verify(self, hashed: str, password: str) -> bool:
        return verify(hashed, password)

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

    def new_token(
        self, name: str, label: str = "automation", valid_for: timedelta | None = None
    ) -> str:
        """A new API token for the caregiver; shown once, only its hash is kept."""
        return self.make_token(name, label, valid_for)[0]

    def make_token(
        self, name: str, label: str = "automation", valid_for: timedelta | None = None
    ) -> tuple[str, TokenInfo]:
        """A new API token, valid for `valid_for` (None: until revoked), and what
        `--list` will show of it."""
        caregiver = self._require(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        expires = now + valid_for if valid_for is not None else None
        label = label[:60]
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO api_tokens (caregiver_id, token_hash, label, created_ms, "
                "expires_ms) VALUES (?, ?, ?, ?, ?)",
                (caregiver.id, _digest(token), label, _ms(now), _ms(expires) if expires else None),
            )
        return token, TokenInfo(cursor.lastrowid or 0, caregiver.name, label, now, expires, None)

    def token_caregiver(self, token: str) -> Caregiver | None:
        """Whose token this is; None when it is not one of ours or has expired."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = _digest(token)
        with self._lock:
            row = self._db.execute(
                "SELECT c.id, c.name, t.token_hash, t.id, t.expires_ms, t.last_used_ms "
                "FROM api_tokens t JOIN caregivers c ON c.id = t.caregiver_id "
                "WHERE t.token_hash = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[2]), digest):
            return None
        now = _ms(self._clock())
        if row[4] is not None and int(row[4]) <= now:
            return None
        if row[5] is None or now - int(row[5]) >= LAST_USED_EVERY.total_seconds() * 1000:
            try:
                with self._tx() as db:
                    db.execute("UPDATE api_tokens SET last_used_ms = ? WHERE id = ?", (now, row[3]))
            except sqlite3.Error as exc:  # a full or read-only disk must not lock anyone out
                if save_problem(exc) is None:
                    raise
        return Caregiver(int(row[0]), str(row[1]))

    def tokens(self) -> list[TokenInfo]:
        """Every API token, oldest first, expired ones included (never the secrets)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.id, c.name, t.label, t.created_ms, t.expires_ms, t.last_used_ms "
                "FROM api_tokens t JOIN caregivers c ON c.id = t.caregiver_id ORDER BY t.id"
            ).fetchall()
        return [
            TokenInfo(r[0], r[1], r[2], _dt(r[3]), _maybe_dt(r[4]), _maybe_dt(r[5])) for r in rows
        ]

    def revoke_token(self, token_id: int) -> TokenInfo:
        """End one API token at once; AccountError when there is no such token."""
        for token in self.tokens():
            if token.id == token_id:
                with self._tx() as db:
                    db.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
                return token
        raise AccountError("id", f"no API token has id {token_id}")
