"""Signed, expiring links that let a push's buttons acknowledge or snooze one alert."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from contract.errors import NurseryError
from hub import messages
from hub.conditions import Incident

LinkAction = Literal["ack", "snooze"]
LinkOutcome = Literal["act", "resolved", "answered"]
SNOOZE_LINK_MINUTES = 30


class BadLink(NurseryError, ValueError):
    """The link was not made by this hub, was changed, or has expired; the message says
    which, in words for a parent."""


def _signature(
    secret: str, incident_id: int, action: str, expires: int, minutes: int | None
) -> str:
    # An ack signs what it always signed, so links sent before an upgrade keep working;
    # a snooze also signs its minutes (a link without them, or edited, is refused).
    message = f"{incident_id}:{action}:{expires}"
    if action != "ack":
        message += f":{minutes}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


@dataclass(frozen=True, slots=True)
class LinkSigner:
    secret: str
    public_url: str
    ttl: timedelta

    def url(
        self,
        incident_id: int,
        action: LinkAction,
        now: datetime,
        minutes: int = SNOOZE_LINK_MINUTES,
    ) -> str:
        expires = int((now + self.ttl).timestamp())
        query: dict[str, int | str] = {"exp": expires}
        signed_minutes = minutes if action == "snooze" else None
        if signed_minutes is not None:
            query["minutes"] = signed_minutes
        query["sig"] = _signature(self.secret, incident_id, action, expires, signed_minutes)
        base = self.public_url.rstrip("/")
        return f"{base}/api/alerts/{incident_id}/{action}?{urlencode(query)}"

    def verify(
        self,
        incident_id: int,
        action: LinkAction,
        expires: int,
        signature: str,
        now: datetime,
        minutes: int | None = None,
    ) -> None:
        """Raise BadLink unless this hub signed exactly these parameters and the link
        has not expired."""
        expected = _signature(self.secret, incident_id, action, expires, minutes)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise BadLink(messages.LINK_NOT_VALID)
        if now.timestamp() > expires:
            raise BadLink(messages.LINK_EXPIRED)


def link_outcome(incident: Incident, action: LinkAction, used: bool, now: datetime) -> LinkOutcome:
    """What a valid link does with its alert now.

    A resolved alert needs nothing. A link that already acted (`used`) never acts again:
    tapped twice, or opened again after its snooze ran out, it must not snooze longer. An
    alert someone already acknowledged needs no second "I'm on it", and a snooze does not
    extend a running snooze or undo an acknowledgement; an "I'm on it" does turn a snooze
    into an acknowledgement, which is the stronger answer.
    """
    if incident.resolved_at is not None:
        return "resolved"
    state = incident.state(now)
    if used or state == "acknowledged" or (action == "snooze" and state == "snoozed"):
        return "answered"
    return "act"
