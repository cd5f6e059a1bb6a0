"""Open the hub's SQLite file privately: created 0600 whatever the umask, WAL, NORMAL sync.

The file holds health data (the episode log) and login secrets, so no other user on the
Pi may read it, nor its -wal and -shm side files.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect_private(path: Path) -> sqlite3.Connection:
    """A connection (autocommit; use BEGIN IMMEDIATE) to `path`, made 0600 before SQLite
    creates it. Raises OSError or sqlite3.Error when it cannot be opened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.chmod(0o600)
    return db
