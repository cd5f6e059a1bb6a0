"""Hub contact: is the hub answering? Fed from the publisher's counters on every turn."""

from __future__ import annotations

from firmware.hub_contact import HubContact
from firmware.publisher import Publisher


class HubLink:
    """Watches the publisher's (re)connections and the hub's live answers for `contact`."""

    def __init__(self, contact: HubContact, publisher: Publisher) -> None:
        self.contact = contact
        self._publisher = publisher
        self._connections = 0
        self._heard = 0

    def reconnected(self, now: float) -> bool:
        """True once per (re)connection to the broker since the last call."""
        connections = self._publisher.connections
        if connections == self._connections:
            return False
        self._connections = connections
        self.contact.connected(now)
        return True

    def heard(self, now: float) -> None:
        """Note whether the hub said anything live since the last call."""
        heard = self._publisher.hub_heard
        if heard != self._heard:
            self._heard = heard
            self.contact.answered(now)

    def reachable(self, now: float) -> bool:
        return self.contact.reachable(self._publisher.is_connected, now)
