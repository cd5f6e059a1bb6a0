"""The outbox while it works, and while it does not: say so once, carry on, retry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from firmware.outbox import Outbox, OutboxError, open_outbox
from firmware.parts.inbox import Receipts

log = logging.getLogger("nursery.firmware")


def outbox_retry_s(interval_s: float) -> float:
    """How often a failing outbox is tried again: every ten readings, 1-60 s."""
    return min(60.0, max(1.0, 10 * interval_s))


class OutboxKeeper:
    """Holds the outbox (`outbox`, None while it fails) and its health for the health
    message: `error`, and the last known `pending` and `dropped`.

    Every part that writes to the outbox reports an OutboxError to `failed`, and a
    successful write of a reading or an event to `works`. `on_change` is called when
    `error` changes, so the hub hears of it at once.
    """

    def __init__(self, path: Path, cap: int, retry_s: float, receipts: Receipts) -> None:
        self.path = path
        self.cap = cap
        self.retry_s = retry_s
        self._receipts = receipts
        self.on_change: Callable[[], None] = lambda: None
        self.outbox: Outbox | None = None
        self.error: str | None = None
        self._logged_error: str | None = None
        self._retry_at = 0.0
        self.pending = 0  # last known, for health while the outbox is down
        self.dropped = 0

    def retry(self, now: float) -> None:
        """Open the outbox again when it failed and its retry is due."""
        if self.outbox is None and now >= self._retry_at:
            self.open()

    def open(self) -> None:
        try:
            outbox = open_outbox(self.path, self.cap)
        except OutboxError as exc:
            self.failed(exc)
            return
        if outbox.quarantined is not None:
            log.error("outbox %s was corrupt; moved it to %s", outbox.path, outbox.quarantined)
        self.outbox = outbox
        self.pending, self.dropped = outbox.pending, outbox.dropped
        outbox.confirm(self._receipts.all())  # on a reopen, what the hub confirmed meanwhile
        if self.error is None and outbox.pending:
            log.info("outbox %s holds %d reading(s) to send", outbox.path, outbox.pending)

    def failed(self, exc: OutboxError) -> None:
        """Log once, say it in the health message, keep going without the outbox."""
        text = str(exc)
        if text != self._logged_error:
            self._logged_error = text
            log.error(
                "%s; publishing live readings without it, retrying every %g s", text, self.retry_s
            )
        else:
            log.debug("outbox still failing: %s", text)
        if self.error != text:
            self.error = text
            self.on_change()
        if self.outbox is not None:
            self.pending, self.dropped = self.outbox.pending, self.outbox.dropped
            self.outbox.close()
            self.outbox = None
        self._retry_at = time.monotonic() + self.retry_s

    def works(self) -> None:
        """A write succeeded: only now is a failing outbox healed (opening proves little)."""
        if self.error is not None:
            log.info("outbox %s works again", self.path)
            self.error = None
            self._logged_error = None
            self.on_change()

    def rooms(self) -> set[str]:
        """Every room the outbox holds something for (empty while it fails)."""
        if self.outbox is None:
            return set()
        try:
            return self.outbox.rooms()
        except OutboxError as exc:
            self.failed(exc)
            return set()

    def counts(self) -> tuple[int, int]:
        """(pending, dropped): the outbox's own while it is open, else the last known."""
        if self.outbox is not None:
            self.pending, self.dropped = self.outbox.pending, self.outbox.dropped
        return self.pending, self.dropped

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
