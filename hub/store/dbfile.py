"""Open the hub's SQLite file privately (0600 whatever the umask, its -wal and -shm too), WAL,
NORMAL sync: it holds health data (the episode log) and login secrets."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def create_private(path: Path) -> None:
    """Create `path` 0600 (whatever the umask) when it does not exist yet; make it 0600.

    Never opens a file that already exists. The hub opens its file on several connections
    (store, accounts, preferences, push outbox, episode log), and closing *any* descriptor
    of a file drops every POSIX lock this process holds on it, SQLite's included. A
    connection robbed of its lock looks gone to other processes: the next one to close
    (a backup, `nursery adduser`, sqlite3 on the command line) takes itself for the last,
    checkpoints and deletes the WAL, and every later commit goes to an unlinked WAL that
    no one else sees and a restart loses, while the receipts sent from it let the Pis
    forget those readings. Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # perhaps open in SQLite already: do not touch its descriptors
    else:
        os.close(fd)  # a new file: no lock on it to lose
    _make_private(path)


def _make_private(path: Path) -> None:
    """chmod 0600 only when needed: on a card gone read-only a chmod fails, and reading
    the history (the dashboard while the hub cannot save) must still work."""
    if path.stat().st_mode & 0o777 != 0o600:
        path.chmod(0o600)


def connect_private(path: Path) -> sqlite3.Connection:
    """A connection (autocommit; use BEGIN IMMEDIATE) to `path`, made 0600 before SQLite
    creates it, in WAL mode with synchronous=NORMAL (`:memory:` for a throwaway one).
    Raises OSError or sqlite3.Error when it cannot be opened."""
    on_disk = str(path) != ":memory:"
    if on_disk:
        create_private(path)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for suffix in ("-wal", "-shm") if on_disk else ():
        side = Path(f"{path}{suffix}")
        if side.exists():
            _make_private(side)
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing hub database, for tools run beside the hub
    (`nursery status`): it creates no file, so one run as root leaves nothing the hub's
    user cannot open, and it never checkpoints the hub's WAL. Raises OSError when the file
    is missing, sqlite3.Error when it cannot be read."""
    if not path.is_file():
        raise FileNotFoundError(f"no hub database at {path}")
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        check_same_thread=False,
        isolation_level=None,
        timeout=10,
    )


@contextmanager
def write_transaction(
    db: sqlite3.Connection, lock: threading.Lock | threading.RLock
) -> Iterator[sqlite3.Connection]:
    """One BEGIN IMMEDIATE … COMMIT under the connection's lock, rolled back on any error:
    the one way the hub's modules write to their shared database file."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
