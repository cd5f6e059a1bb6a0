"""Each new reading: kept in the outbox (its seq and row in one commit), then published live."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from contract.messages import ReadingMessage
from firmware.hub_contact import HubContact
from firmware.outbox import OutboxError
from firmware.parts.keeper import OutboxKeeper
from firmware.publisher import Publisher
from firmware.sensors import SensorReading


class LiveReadings:
    """Numbers this boot's readings (`next_seq`) and sends each one as it is taken.

    A reading paho queued while offline goes out first thing on reconnection; `connected`
    starts its resend clock then, so the drain does not send it twice.
    """

    def __init__(
        self,
        room: str,
        boot_id: str,
        keeper: OutboxKeeper,
        publisher: Publisher,
        contact: HubContact,
        wall_clock: Callable[[], datetime],
    ) -> None:
        self.room = room
        self.boot_id = boot_id
        self._keeper = keeper
        self._publisher = publisher
        self._contact = contact
        self._wall_clock = wall_clock
        self.next_seq = 0
        self._handed: list[tuple[str, int]] = []  # kept readings paho queued while offline

    def publish(self, reading: SensorReading) -> None:
        """Keep the reading (seq and row in one commit), then publish it: live first."""
        taken = (
            self.room,
            self.boot_id,
            self.next_seq,
            self._wall_clock(),
            reading.temperature_c,
            reading.humidity_pct,
        )
        connected = self._publisher.is_connected
        message: ReadingMessage | None = None
        outbox = self._keeper.outbox
        if outbox is not None:
            try:
                message = outbox.take(*taken, sent_at=time.time() if connected else None)
            except OutboxError as exc:
                self._keeper.failed(exc)
            else:
                self._keeper.works()
        if message is None:
            # No outbox: the reading goes out as it is, with the seq the boot was due.
            message = ReadingMessage(*taken, live=connected)
        self.next_seq = message.seq + 1
        accepted = self._publisher.publish_reading(message)
        if accepted and connected:
            self._contact.sent(time.monotonic())
        if accepted and not connected and self._keeper.outbox is not None:
            # In paho's memory queue: it goes out first thing on reconnection. Its resend
            # clock starts then (below), so the drain does not send it twice.
            self._handed.append((message.boot_id, message.seq))

    def connected(self) -> None:
        """On every (re)connection: what paho held has gone out now."""
        outbox = self._keeper.outbox
        if self._handed and outbox is not None:
            try:
                outbox.mark_sent(self._handed, time.time())
            except OutboxError as exc:
                self._keeper.failed(exc)
        self._handed.clear()
