"""Receipts: which rooms owe their firmware a `stored` receipt, and sending it after the commit."""

from __future__ import annotations

import logging
import math
import time
from typing import Final, Protocol

from contract.messages import StoredMessage
from contract.topics import stored_topic
from hub.store.database import Store

log = logging.getLogger("nursery.hub.ingest")

# A room's receipt goes out at most this often; a backlog must not flood the broker.
RECEIPT_EVERY_S: Final = 1.0
# ... and waits this long after the first reading it covers, so that readings of several
# rooms arriving together share one fsync of the database (an SD card wears with each).
RECEIPT_GATHER_S: Final = 1.0
RECEIPT_QOS: Final = 1


class Publisher(Protocol):
    """What sends a receipt: the writer's pass (hub.ingest.writer_pass)."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...


class ReceiptSchedule:
    """Which rooms owe their firmware a receipt, and when they get it.

    A receipt waits `gather_s` after the first reading it covers, and a room gets at most
    one per `every_s`. Once one is due, every owed room allowed one by `every_s` rides
    along: one fsync covers them all.
    """

    def __init__(self, every_s: float, gather_s: float) -> None:
        self._every_s = every_s
        self._gather_s = gather_s
        self._last: dict[str, float] = {}
        self._owed: dict[str, float] = {}  # room → since when it owes its next receipt

    def owe(self, room: str, now: float) -> None:
        self._owed.setdefault(room, now)

    def _allowed(self, room: str, now: float) -> bool:
        return now - self._last.get(room, -math.inf) >= self._every_s

    def due(self, now: float, *, all_owed: bool = False) -> list[str]:
        if all_owed:
            return sorted(self._owed)
        allowed = [room for room in self._owed if self._allowed(room, now)]
        if not any(now - self._owed[room] >= self._gather_s for room in allowed):
            return []
        return sorted(allowed)

    def sent(self, room: str, now: float) -> None:
        self._last[room] = now
        self._owed.pop(room, None)

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next receipt is due; None when none is owed."""
        if not self._owed:
            return None
        return max(
            0.0,
            min(
                max(since + self._gather_s, self._last.get(room, -math.inf) + self._every_s)
                for room, since in self._owed.items()
            )
            - now,
        )


class Receipts:
    """Each room's receipt: how far every boot is stored without a gap, so the firmware can
    let go of those readings (docs/outbox.md). Published retained, after the commit and
    the database's sync, never before. The writer thread's own."""

    def __init__(self, store: Store, sender: Publisher, base: str) -> None:
        self._store = store
        self._sender = sender
        self._base = base
        self._schedule = ReceiptSchedule(RECEIPT_EVERY_S, RECEIPT_GATHER_S)

    def owe(self, room: str, now: float) -> None:
        self._schedule.owe(room, now)

    def wait_s(self, now: float) -> float | None:
        return self._schedule.wait_s(now)

    def send_due(self, *, all_owed: bool = False) -> None:
        """Publish the receipts that are due (after their commit, never before)."""
        now = time.monotonic()
        rooms = self._schedule.due(now, all_owed=all_owed)
        if not rooms:
            return
        try:
            self._store.sync()  # a receipt must never claim what a power cut could undo
        except OSError as exc:
            log.error("cannot sync the database (%s); receipts wait", exc)
            for room in rooms:
                self._schedule.sent(room, now)
                self._schedule.owe(room, now)
            return
        for room in rooms:
            try:
                marks = self._store.receipt(room)
            except Exception:
                log.exception("cannot read the marks of %s; its receipt waits", room)
                self._schedule.sent(room, now)  # keep to the rate even while failing
                self._schedule.owe(room, now)
                continue
            self._schedule.sent(room, now)
            if marks:
                self._sender.publish(
                    stored_topic(self._base, room),
                    StoredMessage(room, marks).encode(),
                    qos=RECEIPT_QOS,
                    retain=True,
                )
