"""Signed, expiring links that let a push's buttons acknowledge or snooze one alert.

A phone tapping "I'm on it" in a notification has no dashboard session; the signature
proves the link came from this hub, names one incident and one action, and expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

LinkAction = Literal["ack", "snooze"]


class BadLink(ValueError):
    """The link was not made by this hub, is for another alert, or has expired."""


def _signature(secret: str, incident_id: int, action: str, expires: int) -> str:
    message = f"{incident_id}:{action}:{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


@dataclass(frozen=True, slots=True)
class LinkSigner:
    secret: str
    public_url: str
    ttl: timedelta

    def url(self, incident_id: int, action: LinkAction, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        query = {"exp": expires, "sig": _signature(self.secret, incident_id, action, expires)}
        if action == "snooze":
            query["minutes"] = 30
        base = self.public_url.rstrip("/")
        return f"{base}/api/alerts/{incident_id}/{action}?{urlencode(query)}"

    def verify(
        self, incident_id: int, action: LinkAction, expires: int, signature: str, now: datetime
    ) -> None:
        expected = _signature(self.secret, incident_id, action, expires)
        if not hmac.compare_digest(expected, signature):
            raise BadLink("this link is not valid for this alert")
        if now.timestamp() > expires:
            raise BadLink("this link has expired; open the dashboard instead")
