"""The outbox's SQLite file: 0600, WAL, fsynced at every commit; its schema, transactions
and errors, and moving a corrupt file aside."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from contract.errors import NurseryError

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


class OutboxFile:
    """One open outbox file. `load` reads what the outbox keeps in memory as part of the
    open, so a file that cannot be read fails to open. `max_pages`, when set, limits the
    file's size in pages: writes beyond it fail exactly as on a full disk."""

    def __init__(
        self,
        path: Path,
        load: Callable[[sqlite3.Connection], None],
        *,
        max_pages: int | None = None,
    ) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
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
            load(db)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise self.error("open", exc) from exc
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").chmod(0o600)

    def error(self, doing: str, exc: BaseException) -> OutboxError:
        code = getattr(exc, "sqlite_errorcode", None)
        corrupt = isinstance(code, int) and (code & 0xFF) in _CORRUPT_CODES
        return OutboxError(f"cannot {doing} outbox {self.path}: {exc}", corrupt=corrupt)

    def close(self) -> None:
        """Close the file; safe to call twice and after a failure."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    @contextmanager
    def tx(self, doing: str) -> Iterator[sqlite3.Connection]:
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
            raise self.error(doing, exc) from exc

    def query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            raise OutboxError(f"outbox {self.path} is closed")
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self.error("read", exc) from exc


def move_aside(path: Path, exc: OutboxError) -> Path:
    """Move a corrupt outbox (and its WAL) aside, kept for a post-mortem; where it went."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        path.rename(aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
    except OSError as move:
        raise OutboxError(f"{exc}; cannot move it aside: {move}") from exc
    return aside
