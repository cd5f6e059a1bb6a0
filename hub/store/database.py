"""The hub's history in one SQLite file: `Store`, composed of a part per table (WAL,
batched commits with synchronous=NORMAL so a Pi's SD card lasts; the file is 0600)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path

from hub.store.dbfile import connect_private, connect_read_only
from hub.store.incidents import Incidents
from hub.store.migrations import SCHEMA_VERSION, check_not_newer, migrate
from hub.store.readings import Readings
from hub.store.records import (
    HOUR_MS,
    Bucket,
    Fault,
    LatestReading,
    Received,
    RoomState,
    Series,
    StoredReading,
    StoreError,
    from_ms,
    hour_of,
    to_ms,
)
from hub.store.rollups import Rollups
from hub.store.rooms import RoomTable

# The names users of the store import from here (they live in the part that owns them).
__all__ = [
    "CACHE_KIB",
    "HOUR_MS",
    "SCHEMA_VERSION",
    "Bucket",
    "Fault",
    "LatestReading",
    "Received",
    "RoomState",
    "Series",
    "Store",
    "StoreError",
    "StoredReading",
    "from_ms",
    "hour_of",
    "to_ms",
]

# SQLite's page cache for the readings file, in KiB (its default is 2,000). Ingest only
# touches the right-hand edge of each index and the charts read the small hourly rollup,
# so a quarter of that holds the working set; the kernel's page cache keeps the rest of
# the file near at hand. 0.9 MiB less hub RSS after a 100,000-reading feed.
CACHE_KIB = 512


class Store(Readings, Rollups, Incidents, RoomTable):
    """All reads and writes of the hub's SQLite file, on one connection under one lock.

    The file is created 0600 (it will hold health data). Commits are batched and not
    fsynced each (synchronous=NORMAL), because a Pi's SD card wears with every commit;
    `sync` makes them durable before a receipt lets a firmware forget its readings.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """`read_only`: only read an existing file, as a tool beside the running hub does
        (no schema, no upgrade, nothing written)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._room_ids = {}
        self._boot_ids = {}
        self._floors = {}
        if read_only:
            try:
                self._db = connect_read_only(self.path)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot read database {self.path}: {exc}") from exc
            try:
                check_not_newer(self._db)  # a newer hub's tables may mean something else
            except (StoreError, sqlite3.Error) as exc:
                self._db.close()
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"cannot read database {self.path}: {exc}") from exc
            return
        try:
            self._db = connect_private(self.path)  # 0600 whatever the umask, WAL, NORMAL
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            migrate(self._db)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def secret(self, name: str) -> str:
        """A random secret kept in the database (0600), made on first use."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            if row is not None:
                return str(row[0])
            value = secrets.token_urlsafe(32)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, value))
            return value

    def probe_write(self) -> None:
        """One tiny committed write, to learn whether the disk takes writes again (the
        save alarm's probe); raises sqlite3.Error or OSError when it does not."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('save-probe', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(int(time.time())),),
            )
