"""What other threads hand to the loop: the hub's words from paho's, presses from gpiozero's."""

from __future__ import annotations

import queue
import threading

from contract.alert_state import AlertStateMessage
from contract.episode_events import EpisodeStoredMessage
from contract.messages import StoredMessage
from firmware.indicators import ButtonEvent, Indicators


class Receipts:
    """The hub's marks, merged on paho's thread, read by the main loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marks: dict[str, int] = {}
        self._changed = False
        self.count = 0  # receipts received; a change says the hub is alive

    def add(self, receipt: StoredMessage) -> None:
        with self._lock:
            for boot_id, mark in receipt.boots.items():
                if mark > self._marks.get(boot_id, -1):
                    self._marks[boot_id] = mark
                    self._changed = True
            self.count += 1

    def all(self) -> dict[str, int]:
        with self._lock:
            return dict(self._marks)

    def changed(self) -> dict[str, int] | None:
        """The marks when they moved since the last call, else None."""
        with self._lock:
            if not self._changed:
                return None
            self._changed = False
            return dict(self._marks)


class Inbox:
    """The one hand-over point between the loop and the threads that call us back.

    Each callback only queues or replaces one reference, so it never blocks paho or
    gpiozero; the loop takes what arrived on its next turn.
    """

    def __init__(self) -> None:
        self.receipts = Receipts()
        self.presses: queue.SimpleQueue[ButtonEvent] = queue.SimpleQueue()
        self.events_stored: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.alert: AlertStateMessage | None = None  # the hub's last word on the room
        self.indicators: Indicators | None = None  # set once they are open

    def on_press(self, event: ButtonEvent) -> None:
        """On gpiozero's thread: confirm the press on the LED at once, queue it for the
        loop (which keeps it in the outbox). Nothing about it is logged: the episode log
        is health data."""
        self.presses.put(event)
        indicators = self.indicators
        if indicators is not None:
            indicators.confirm(event.action)

    def on_event_stored(self, receipt: EpisodeStoredMessage) -> None:
        self.events_stored.put(receipt.event_id)  # on paho's thread

    def on_alert(self, alert: AlertStateMessage | None) -> None:
        self.alert = alert  # on paho's thread; one reference, replaced whole
