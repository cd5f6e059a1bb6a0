"""The outbox drain: re-send what the hub has not confirmed, within a rate and a window."""

from __future__ import annotations

import logging
import math
import time
from typing import Final

from firmware.hub_contact import HubContact
from firmware.outbox import OutboxError
from firmware.parts.inbox import Receipts
from firmware.parts.keeper import OutboxKeeper
from firmware.publisher import MAX_QUEUED_MESSAGES, Publisher

log = logging.getLogger("nursery.firmware")

# Between two drain steps; each sends what the rate allows since the last one.
DRAIN_TICK_S: Final = 0.5
# After a (re)connection, wait this long for the hub's retained receipt before re-sending.
SETTLE_S: Final = 1.0
# Without any receipt for this long, allow a few re-sends anyway: a probe of a silent hub.
PROBE_EVERY_S: Final = 60.0
# After a look for due readings found them all, the next look waits at most this long.
QUIET_RECHECK_S: Final = 5.0


def resend_grace_s(interval_s: float) -> float:
    """How long a published reading may go unconfirmed before it is sent again: long
    enough for the hub's receipt (rate-limited to one a second) to come back."""
    return max(5.0, 3 * interval_s)


def resend_window(drain_per_s: float) -> int:
    """Most re-sends between two receipts: ten seconds' worth, at least 100. A hub that has
    gone quiet is not flooded (its broker queue is finite); a live hub answers every second."""
    return max(100, math.ceil(10 * drain_per_s))


class Drain:
    """Re-sends held readings, oldest first: `drain_per_s` at most (a token bucket), no
    more than a window's worth between two receipts, and not before the hub's retained
    receipt has had a moment to arrive after a (re)connection.

    The loop calls `connected` on every (re)connection, `take_receipts` and `tick` on
    every turn; `next_tick` says when the loop must turn again for it.
    """

    def __init__(
        self,
        interval_s: float,
        drain_per_s: float,
        keeper: OutboxKeeper,
        receipts: Receipts,
        publisher: Publisher,
        contact: HubContact,
        now: float,
    ) -> None:
        self.rate = drain_per_s
        self.grace_s = resend_grace_s(interval_s)
        self.window = resend_window(drain_per_s)
        self._keeper = keeper
        self._receipts = receipts
        self._publisher = publisher
        self._contact = contact
        self._connected_at = now
        self._receipts_seen = 0
        self._receipts_at_connect = 0
        self._last_receipt_at = now
        self._credits = self.window
        self._tokens = 0.0
        self._tokens_at = now
        self.next_tick = now
        self._quiet_until = now  # no need to look for due readings before this

    def connected(self, now: float) -> None:
        self._connected_at = now
        self._receipts_at_connect = self._receipts.count
        self._quiet_until = now

    def take_receipts(self, now: float) -> None:
        """A receipt refills the window (a silent hub gets a probe's worth now and then);
        the readings its marks cover leave the outbox with its next write."""
        count = self._receipts.count
        if count != self._receipts_seen:
            self._receipts_seen = count
            self._last_receipt_at = now
            self._credits = self.window
        elif now - self._last_receipt_at >= PROBE_EVERY_S:
            self._last_receipt_at = now
            self._credits = max(self._credits, math.ceil(self.rate))
        marks = self._receipts.changed()
        if marks and self._keeper.outbox is not None:
            self._keeper.outbox.confirm(marks)

    def tick(self, now: float, connected: bool) -> None:
        if now >= self.next_tick:
            self.next_tick = now + DRAIN_TICK_S
            if connected:
                self._drain(now)

    def _drain(self, now: float) -> None:
        """Re-send due readings, oldest first, within the rate and the window."""
        burst = max(1.0, self.rate * DRAIN_TICK_S * 2)
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        outbox = self._keeper.outbox
        if outbox is None or outbox.pending == 0:
            return
        settled = (
            self._receipts.count > self._receipts_at_connect or now >= self._connected_at + SETTLE_S
        )
        budget = min(int(self._tokens), self._credits, MAX_QUEUED_MESSAGES // 2)
        if not settled or budget <= 0 or now < self._quiet_until:
            return
        try:
            due = outbox.due(time.time(), self.grace_s, budget)
            sent = [held for held in due if self._publisher.publish_reading(held.message())]
            outbox.mark_sent([(held.boot_id, held.seq) for held in sent], time.time())
        except OutboxError as exc:
            self._keeper.failed(exc)
            return
        self._tokens -= len(due)
        self._credits -= len(sent)
        if len(due) < budget:
            # Nothing else is due now, and nothing becomes due sooner than this (readings
            # taken offline wait for a reconnection): spare a large outbox the scan.
            self._quiet_until = now + min(QUIET_RECHECK_S, self.grace_s / 2)
        if sent:
            self._contact.sent(time.monotonic())
            log.debug("re-sent %d reading(s), %d held", len(sent), outbox.pending)
