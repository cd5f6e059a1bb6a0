"""Is the hub answering? Judged on the Pi from what it sends and what comes back, so the
status light and the buzzer know when the Pi is on its own (docs/firmware.md)."""

from __future__ import annotations


class HubContact:
    """Tracks whether the hub has answered what the firmware sent.

    `sent` when a reading or an event the hub answers goes out, `answered` when the hub
    says anything live (a receipt, an alert state), `connected` on every (re)connection
    to the broker. Reachable: connected, and nothing has waited longer than
    `answer_within_s` for an answer. Nothing sent yet counts as reachable: a Pi whose
    sensor has failed sends nothing to answer, and its light says so on its own.

    From `started_at`, the first connection gets the same `answer_within_s`: a Pi that
    boots in a cold room (after a power cut at 3 a.m., say) has read its sensor before
    the broker has answered, and must not beep about a hub it has not yet tried to reach.
    """

    def __init__(self, answer_within_s: float, started_at: float | None = None) -> None:
        if not answer_within_s > 0:
            raise ValueError("answer_within_s must be positive")
        self.answer_within_s = answer_within_s
        self._started_at = started_at  # None once connected: the grace is for the first time
        self._waiting_since: float | None = None

    def connected(self, now: float) -> None:
        """A new connection: what was sent before it may never have reached the broker."""
        self._waiting_since = None
        self._started_at = None

    def sent(self, now: float) -> None:
        if self._waiting_since is None:
            self._waiting_since = now

    def answered(self, now: float) -> None:
        self._waiting_since = None

    def waiting_s(self, now: float) -> float:
        """How long the oldest unanswered message has waited; 0 when none waits."""
        return 0.0 if self._waiting_since is None else max(0.0, now - self._waiting_since)

    def reachable(self, connected: bool, now: float) -> bool:
        if not connected:
            starting = self._started_at
            return starting is not None and now - starting < self.answer_within_s
        return self.waiting_s(now) < self.answer_within_s
