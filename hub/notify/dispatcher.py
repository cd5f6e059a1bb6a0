"""The dispatcher: sends what the outbox holds in the background, never slowing ingest."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hub import messages
from hub.messages import Message
from hub.notify.channel_health import ChannelHealth
from hub.notify.outbox import HOUR, PushOutbox
from hub.notify.push import Action, DeliveryError, NewPush, OutboxError, Push, PushSender
from hub.notify.redaction import redact_url

log = logging.getLogger("nursery.hub.notify")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """For /healthz and the dashboard: is anything stuck, and why."""

    pending: int
    last_error: str | None
    last_error_at: datetime | None
    sent_last_hour: int
    failing: bool  # some push still waiting has already failed at least once


class Dispatcher:
    """Sends due pushes from the outbox in the background.

    Pushes just committed are handed over in memory (`wake(pushes)`) and start at once in
    the caller's thread; one dispatcher thread reads the outbox for the rest: at start, on
    `wake()`, when a send ends, when a retry falls due, every `poll_s` while the hourly
    limit holds a push back, and otherwise once an hour (to prune), so an idle hub does
    not poll its database. Each send runs in a thread of its
    own with at most one send per channel at a time, so a channel that hangs holds up only
    its own pushes. Failures retry after `retry_base_s`, doubling up to `retry_max_s`. Each
    channel gets at most `max_per_hour` pushes per rolling hour; pushes over it wait (never
    dropped) unless they bypass the limit.
    """

    def __init__(
        self,
        outbox: PushOutbox,
        sender: PushSender,
        clock: Clock = utc_now,
        max_per_hour: int = 6,
        *,
        poll_s: float = 1.0,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
        late_after: timedelta = timedelta(minutes=2),
        keep_sent: timedelta = timedelta(days=7),
        batch: int = 100,
        channel_health: ChannelHealth | None = None,
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.max_per_hour = max_per_hour
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.late_after = late_after
        self.keep_sent = keep_sent
        self.batch = batch
        self.channel_health = channel_health  # each channel's last result, kept past pruning
        self.delivered_total = 0  # since start, for /metrics
        self.failed_total = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        # Held while reading what is due and claiming channels, by the loop or by wake():
        # a push is never read as due by one while the other is starting it.
        self._launching = threading.Lock()
        self._pruned_at: datetime | None = None

    # --- lifecycle ---

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="push-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling at once; give sends under way up to `timeout` s to record a result.

        A send still running after that is recorded when it ends, or, if the outbox is
        closed by then, sent again after the next start (a duplicate rather than a loss).
        """
        self._stop.set()
        self._wake.set()
        with self._launching:
            pass  # a launch under way has registered its sends; no new one starts
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            sends = list(self._in_flight.values())
        deadline = time.monotonic() + timeout
        for thread in sends:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self, pushes: Sequence[Push] = ()) -> None:
        """Look at the outbox now rather than at the next poll.

        Given pushes just committed, start their sends here and now, in the caller's
        thread: no hand-over to the dispatcher thread, and no reading of the whole outbox,
        only a due check on these ids (so channel order and the hourly limit hold exactly
        as in the loop). Never raises: what it cannot start, the loop will.
        """
        if not pushes or self._thread is None or self._stop.is_set():
            self._wake.set()
            return
        ids = [push.id for push in pushes]
        among = (min(ids), max(ids))
        try:
            _, held = self._launch(lambda now: self.outbox.due(now, self.batch, among=among))
            if held:
                self._wake.set()  # the loop looks again every poll_s until the hour allows
        except Exception:
            log.exception("push dispatcher: cannot start new pushes at once; the loop will")
            self._wake.set()

    def enqueue(
        self,
        url: str,
        message: Message,
        *,
        incident_id: int | None = None,
        actions: Sequence[Action] = (),
        bypass_rate_limit: bool = False,
    ) -> int:
        """Store a push and start sending it; returns without waiting for delivery."""
        new = NewPush(url, message, incident_id, tuple(actions), bypass_rate_limit)
        (push,) = self.outbox.enqueue_many([new], now=self.clock(), committed=self.wake)
        return push.id

    def health(self) -> DeliveryHealth:
        stats = self.outbox.stats(self.clock())
        return DeliveryHealth(
            pending=stats.pending,
            last_error=stats.last_error,
            last_error_at=stats.last_error_at,
            sent_last_hour=stats.sent_last_hour,
            failing=stats.failed_attempts > 0,
        )

    # --- the loop ---

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait_s = self.poll_s
            try:
                wait_s = self._tick()
            except Exception:
                log.exception("push dispatcher: cannot read the outbox; retrying")
            self._wake.wait(wait_s)

    def _tick(self) -> float:
        """Start the sends that are due; returns how long to wait before looking again
        (unless woken: a new push, a send ending)."""
        now, held = self._launch(lambda now: self.outbox.due(now, self.batch))
        if self._pruned_at is None or now - self._pruned_at >= HOUR:
            self._pruned_at = now
            self.outbox.prune(now - self.keep_sent)
        wait_s = (self._pruned_at + HOUR - now).total_seconds()
        if held:
            wait_s = min(wait_s, self.poll_s)  # until the hour lets it go
        upcoming = self.outbox.next_attempt_after(now)
        if upcoming is not None:
            wait_s = min(wait_s, (upcoming - now).total_seconds())
        return max(0.01, wait_s)

    def _launch(self, due: Callable[[datetime], list[Push]]) -> tuple[datetime, bool]:
        """Start a send for each push `due` returns whose channel is free and under its
        hourly limit; returns the time it went by, and whether the limit held one back."""
        held = False
        with self._launching:
            now = self.clock()
            for push in due(now):
                if self._stop.is_set():
                    break
                with self._lock:
                    if push.url in self._in_flight:
                        continue
                if not push.bypass_rate_limit:
                    sent = self.outbox.sent_count(push.url, now - HOUR)
                    if sent >= self.max_per_hour:
                        log.debug(
                            "push %d held: hourly limit for %s", push.id, redact_url(push.url)
                        )
                        held = True
                        continue
                thread = threading.Thread(
                    target=self._deliver, args=(push,), name=f"push-{push.id}", daemon=True
                )
                with self._lock:
                    self._in_flight[push.url] = thread
                thread.start()
        return now, held

    def _deliver(self, push: Push) -> None:
        error: str | None = None
        try:
            self.sender.send(self._late(push))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("push %d: unexpected error in the sender", push.id)
            error = f"{redact_url(push.url)}: unexpected {type(exc).__name__}"
        now = self.clock()
        try:
            self._record_health(push.url, now, error)
            if error is None:
                self.outbox.delivered(push.id, now)
                log.info("push %d delivered to %s", push.id, redact_url(push.url))
            else:
                delay = min(self.retry_max_s, self.retry_base_s * 2**push.attempts)
                self.outbox.failed(push.id, now, error, now + timedelta(seconds=delay))
                log.warning(
                    "push %d failed (attempt %d), retry in %g s: %s",
                    push.id,
                    push.attempts + 1,
                    delay,
                    error,
                )
        except (OutboxError, sqlite3.ProgrammingError) as exc:
            log.warning("push %d: cannot record the outcome (%s); it will be retried", push.id, exc)
        finally:
            with self._lock:
                self._in_flight.pop(push.url, None)
                if error is None:
                    self.delivered_total += 1
                else:
                    self.failed_total += 1
            self._wake.set()

    def _record_health(self, url: str, now: datetime, error: str | None) -> None:
        if self.channel_health is None:
            return
        try:
            if error is None:
                self.channel_health.delivered(url, now)
            else:
                self.channel_health.failed(url, now, error)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot record how %s is doing: %s", redact_url(url), exc)

    def _late(self, push: Push) -> Push:
        """Say so when a push goes out late, so old numbers are not read as current."""
        if push.created_at is None:
            return push
        age = self.clock() - push.created_at
        if age < self.late_after:
            return push
        return replace(push, message=messages.sent_late(push.message, age))
