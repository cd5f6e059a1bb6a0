"""A real in-process push sender for tests: it keeps what it is given, or fails on request."""

from __future__ import annotations

import threading

from hub.notify.push import DeliveryError, Push


class RecordingSender:
    """A PushSender that keeps every push it is given, in memory: for tests of code that
    enqueues. Set `fail_with` to a reason and each send fails with that DeliveryError."""

    def __init__(self) -> None:
        self.sent: list[Push] = []
        self.fail_with: str | None = None
        self._lock = threading.Lock()

    def send(self, push: Push) -> None:
        if self.fail_with is not None:
            raise DeliveryError(self.fail_with)
        with self._lock:
            self.sent.append(push)
