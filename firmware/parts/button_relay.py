"""The episode button's events, kept in the outbox and re-sent until the hub stored them."""

from __future__ import annotations

import queue
import time
from typing import Final

from contract.episode_events import EpisodeEventMessage
from firmware.hub_contact import HubContact
from firmware.outbox import OutboxError
from firmware.parts.inbox import Inbox
from firmware.parts.keeper import OutboxKeeper
from firmware.publisher import Publisher

# A button event the hub has not confirmed is sent again this often (and on reconnection).
EVENT_RESEND_S: Final = 30.0
# How often to look for button events due again.
EVENT_CHECK_S: Final = 1.0


class ButtonRelay:
    """Takes the presses the inbox queued, keeps them (outbox first, in memory while it
    fails), publishes them, and forgets each once the hub says it stored it.

    The loop calls `connected` on every (re)connection (every held event goes again),
    `tick` on every turn, and `close` after the button is closed.
    """

    def __init__(
        self,
        room: str,
        inbox: Inbox,
        keeper: OutboxKeeper,
        publisher: Publisher,
        contact: HubContact,
    ) -> None:
        self.room = room
        self._inbox = inbox
        self._keeper = keeper
        self._publisher = publisher
        self._contact = contact
        # Events kept in memory only while the outbox fails: event id -> (message, sent at).
        self._loose: dict[str, tuple[EpisodeEventMessage, float | None]] = {}
        self._check_at = 0.0
        self._resend_all = False

    def connected(self) -> None:
        self._resend_all = True

    def tick(self, now: float, connected: bool) -> None:
        self._take(connected)
        if connected and (self._resend_all or now >= self._check_at):
            self._check_at = now + EVENT_CHECK_S
            self._resend()

    def close(self) -> None:
        """Presses still queued go to the outbox."""
        self._take(connected=False)

    def _take(self, connected: bool) -> None:
        """Keep new presses (outbox first, then publish), forget what the hub stored."""
        while True:
            try:
                event_id = self._inbox.events_stored.get_nowait()
            except queue.Empty:
                break
            self._loose.pop(event_id, None)
            if self._keeper.outbox is not None:
                try:
                    self._keeper.outbox.event_stored(event_id)
                except OutboxError as exc:
                    self._keeper.failed(exc)
        while True:
            try:
                press = self._inbox.presses.get_nowait()
            except queue.Empty:
                break
            message = EpisodeEventMessage(
                room=self.room, event_id=press.event_id, action=press.action, ts=press.ts
            )
            sent_at = time.time() if connected else None
            self._keep(message, sent_at)
            if connected and self._publisher.publish_episode(message):
                self._contact.sent(time.monotonic())

    def _keep(self, message: EpisodeEventMessage, sent_at: float | None) -> None:
        if self._keeper.outbox is not None:
            try:
                self._keeper.outbox.add_event(message, sent_at=sent_at)
            except OutboxError as exc:
                self._keeper.failed(exc)
            else:
                self._keeper.works()
                return
        # Until the outbox works again, in memory: still re-sent, lost only with the process.
        self._loose[message.event_id] = (message, sent_at)

    def _resend(self) -> None:
        """Send what the hub has not confirmed: every held event after a (re)connection,
        else those sent more than EVENT_RESEND_S ago."""
        every = 0.0 if self._resend_all else EVENT_RESEND_S
        self._resend_all = False
        now = time.time()
        self._adopt_loose()
        due = [
            message
            for message, sent_at in self._loose.values()
            if sent_at is None or not 0 <= now - sent_at < every
        ]
        if self._keeper.outbox is not None:
            try:
                due += self._keeper.outbox.due_events(now, every)
            except OutboxError as exc:
                self._keeper.failed(exc)
        sent = [message for message in due if self._publisher.publish_episode(message)]
        if not sent:
            return
        self._contact.sent(time.monotonic())
        for message in sent:
            if message.event_id in self._loose:
                self._loose[message.event_id] = (message, now)
        if self._keeper.outbox is not None:
            try:
                self._keeper.outbox.mark_events_sent([m.event_id for m in sent], now)
            except OutboxError as exc:
                self._keeper.failed(exc)

    def _adopt_loose(self) -> None:
        """Events kept in memory while the outbox failed go into it once it works."""
        for event_id, (message, sent_at) in list(self._loose.items()):
            if self._keeper.outbox is None:
                return
            try:
                self._keeper.outbox.add_event(message, sent_at=sent_at)
            except OutboxError as exc:
                self._keeper.failed(exc)
                return
            del self._loose[event_id]
