"""The packets one pass of the ingest writer sends, handed to paho together at its end."""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt


class WriterPass:
    """Acks, states and receipts the writer thread sends while it holds a pass go to paho
    when the pass ends, in the order they were made. paho wakes its network thread for
    each packet queued; woken mid-pass, that thread contended with the writer for the
    interpreter lock at every SQLite call after it (about a quarter more context switches
    at a sensor's pace, bench/RESULTS.md). Other threads' packets go at once."""

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._held: list[Callable[[], object]] | None = None
        self._holder: int | None = None

    def hold(self) -> None:
        """From now on, this thread's packets wait for send()."""
        self._held, self._holder = [], threading.get_ident()

    def send(self) -> None:
        """Hand what the pass held to paho, and stop holding."""
        held, self._held, self._holder = self._held or [], None, None
        for call in held:
            call()

    def ack(self, mid: int, qos: int) -> None:
        self._now_or_later(lambda: self._client.ack(mid, qos))

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self._now_or_later(lambda: self._client.publish(topic, payload, qos=qos, retain=retain))

    def _now_or_later(self, call: Callable[[], object]) -> None:
        if self._held is not None and threading.get_ident() == self._holder:
            self._held.append(call)
        else:
            call()
