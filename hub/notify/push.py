"""What a push is: one message for one channel, its buttons, the sender protocol, its errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contract.errors import NurseryError
from hub.messages import Message


class NotifyError(NurseryError):
    """Root of the delivery errors."""


class DeliveryError(NotifyError):
    """One push could not be delivered; the message names the channel without secrets."""


class OutboxError(NotifyError):
    """The outbox table cannot be read or written; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class Action:
    """A button on the push that makes an HTTP POST (acknowledge, snooze).

    `clear` dismisses the notification once tapped (ntfy), right for "I'm on it".
    """

    label: str
    url: str
    clear: bool = False

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError("an action needs a label")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("an action URL must be http:// or https://")


@dataclass(frozen=True, slots=True)
class Push:
    """One message for one channel (one Apprise URL), as stored in the outbox."""

    id: int
    url: str
    message: Message
    incident_id: int | None = None
    actions: tuple[Action, ...] = ()
    bypass_rate_limit: bool = False
    attempts: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewPush:
    """A push to store: one message for one channel, not yet in the outbox."""

    url: str
    message: Message
    incident_id: int | None = None
    actions: tuple[Action, ...] = ()
    bypass_rate_limit: bool = False

    def __post_init__(self) -> None:
        if not self.url.strip():
            raise ValueError("a push needs an Apprise URL")


# Told about pushes right after their commit (the dispatcher starts sending them).
Committed = Callable[[Sequence[Push]], None]


class PushSender(Protocol):
    def send(self, push: Push) -> None:
        """Deliver the push or raise DeliveryError."""
