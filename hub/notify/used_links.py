"""Which push links have already acted, so a second tap says "already done"."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from pathlib import Path

from hub.store.dbfile import connect_private, write_transaction
from hub.store.migrations import migrate


def _hash(signature: str) -> str:
    return hashlib.sha256(signature.encode()).hexdigest()


class UsedLinks:
    """The used push links, on its own connection to the hub's database."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = connect_private(path)
        migrate(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def used(self, signature: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM used_links WHERE link_hash = ?", (_hash(signature),)
            ).fetchone()
        return row is not None

    def claim(self, signature: str, incident_id: int, expires: int, now: datetime) -> bool:
        """Mark the link used; False when it already was (two taps at once: one wins)."""
        with write_transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM used_links WHERE expires < ?", (int(now.timestamp()),))
            inserted = db.execute(
                "INSERT OR IGNORE INTO used_links (link_hash, incident_id, used_at_ms, expires)"
                " VALUES (?, ?, ?, ?)",
                (_hash(signature), incident_id, int(now.timestamp() * 1000), expires),
            )
            return inserted.rowcount == 1

    def release(self, signature: str) -> None:
        """Forget a claim whose action failed, so the link can be tried again."""
        with write_transaction(self._db, self._lock) as db:
            db.execute("DELETE FROM used_links WHERE link_hash = ?", (_hash(signature),))
