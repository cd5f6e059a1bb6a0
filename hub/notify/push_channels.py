"""Each push channel's last delivery and last failure, from the push outbox's table."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from hub.notify.redaction import redact_url
from hub.store.database import from_ms


@dataclass(frozen=True, slots=True)
class ChannelReport:
    channel: str  # redacted
    last_delivered_at: datetime | None  # None: none delivered that the outbox still keeps
    last_failed_at: datetime | None
    last_error: str | None  # already redacted when stored
    pending: int

    @property
    def failing(self) -> bool:
        """The newest attempt failed and something still waits for this channel."""
        if self.last_failed_at is None or self.pending == 0:
            return False
        return self.last_delivered_at is None or self.last_failed_at > self.last_delivered_at


def channel_reports(db: sqlite3.Connection) -> list[ChannelReport]:
    """One report per channel the outbox knows, in the order channels first appeared."""
    rows = db.execute(
        "SELECT url, max(sent_at_ms), max(last_error_at_ms),"
        " sum(CASE WHEN sent_at_ms IS NULL THEN 1 ELSE 0 END),"
        " (SELECT p2.last_error FROM pushes AS p2 WHERE p2.url = pushes.url"
        "  AND p2.last_error_at_ms IS NOT NULL ORDER BY p2.last_error_at_ms DESC LIMIT 1)"
        " FROM pushes GROUP BY url ORDER BY min(id)"
    ).fetchall()
    return [
        ChannelReport(
            channel=redact_url(str(url)),
            last_delivered_at=None if sent is None else from_ms(int(sent)),
            last_failed_at=None if failed is None else from_ms(int(failed)),
            last_error=None if error is None else str(error),
            pending=int(pending or 0),
        )
        for url, sent, failed, pending, error in rows
    ]
