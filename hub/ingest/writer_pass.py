"""The packets one pass of the ingest writer sends, handed to paho together at its end."""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt


class WriterPass:
    """Acks, states and receipts the writer thread makes while it holds a pass go to paho
    when the pass ends, in the order they were made. paho wakes its network thread for
    each packet queued; woken mid-pass, that thread contended with the writer for the
    interpreter lock at every SQLite call after it (about an eighth more context switches
    at a sensor's pace, bench/RESULTS.md).

    Another thread's packet goes at once, after whatever the pass holds: a room's state
    published by the monitor's ticker never reaches the broker before an older one the
    writer made, so the retained state is always the newest."""

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._held: list[Callable[[], object]] | None = None
        self._holder: int | None = None

    def hold(self) -> None:
        """From now on, this thread's packets wait for send()."""
        with self._lock:
            self._held, self._holder = [], threading.get_ident()

    def send(self) -> None:
        """Hand what the pass held to paho, and stop holding."""
        with self._lock:
            self._flush()
            self._held = self._holder = None

    def ack(self, mid: int, qos: int) -> None:
        self._in_order(lambda: self._client.ack(mid, qos))

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self._in_order(lambda: self._client.publish(topic, payload, qos=qos, retain=retain))

    def _in_order(self, call: Callable[[], object]) -> None:
        with self._lock:
            if self._held is not None and threading.get_ident() == self._holder:
                self._held.append(call)
                return
            self._flush()  # what the pass made before this goes first
            call()

    def _flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            for call in held:
                call()
