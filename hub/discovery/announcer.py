"""Home Assistant discovery: publishes, re-announces and removes the rooms' retained configs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from hub.comfort import ComfortBand, RoomStateMessage, derive_room_state
from hub.conditions import Condition
from hub.config import HubConfig
from hub.discovery.entities import Config, Entities, encode

log = logging.getLogger("nursery.hub.discovery")

# (topic, payload, retain): the hub's MQTT client publishes at QoS 1.
Publish = Callable[[str, bytes, bool], None]
Mode = Literal["announce", "remove", "off"]


class Discovery:
    """Announces, re-announces and removes the hub's rooms in Home Assistant.

    One device per room, linked to a device for the hub (entities.py builds them); the
    only I/O is the `publish` callable the hub hands in. Thread-safe: ingest's writer
    thread (a room seen for the first time, Home Assistant's status) and the lifespan
    (start, reconnect) may call in at once.
    """

    def __init__(
        self, settings: HubConfig, publish: Publish, *, sw_version: str | None = None
    ) -> None:
        ha = settings.homeassistant
        self._publish = publish
        self.entities = Entities(settings, sw_version=sw_version)
        self._prefix = ha.prefix
        self.mode: Mode = "remove" if ha.remove else "announce" if ha.discovery else "off"
        self._band = ComfortBand.from_rules(settings.rules)
        self._lock = threading.Lock()
        self._rooms: set[str] = set()  # announced: said again when Home Assistant comes online
        self._seen: set[str] = set()  # announced or removed: ensure() leaves them be

    # --- topics -----------------------------------------------------------------------

    @property
    def hub_availability(self) -> str:
        return self.entities.hub_availability

    @property
    def status_topic(self) -> str:
        """Where Home Assistant says `online` (its birth message) and `offline`."""
        return f"{self._prefix}/status"

    def subscriptions(self) -> list[str]:
        """Topic filters the hub subscribes to for discovery (none unless announcing)."""
        return [self.status_topic] if self.mode == "announce" else []

    def handles(self, topic: str) -> bool:
        """True for a message ingest must hand to on_homeassistant_status, not the contract."""
        return self.mode == "announce" and topic == self.status_topic

    def state_topic(self, room: str) -> str:
        return self.entities.state_topic(room)

    def device_id(self, room: str) -> str:
        """Stable across restarts: from the base topic and the room name only."""
        return self.entities.device_id(room)

    @property
    def hub_device_id(self) -> str:
        return self.entities.hub_device_id

    def configs(self, room: str) -> dict[str, Config]:
        """A room's discovery messages: topic → JSON object, in the configured layout."""
        return self.entities.configs(room)

    def hub_configs(self) -> dict[str, Config]:
        """The hub's own device (its connection), which every room names as `via_device`."""
        return self.entities.hub_configs()

    # --- what goes out ------------------------------------------------------------------

    def announce(self, rooms: Iterable[str]) -> None:
        """Publish the hub's and these rooms' discovery messages, retained, and remember the
        rooms for the next re-announce. In remove mode this removes them instead."""
        rooms = sorted(set(rooms))
        with self._lock:
            self._seen.update(rooms)
        if self.mode == "remove":
            self.remove(rooms)
            return
        if self.mode == "off":
            return
        with self._lock:
            self._rooms.update(rooms)
        messages = self.hub_configs()
        for room in rooms:
            messages.update(self.configs(room))
        for topic, config in messages.items():
            self._publish(topic, encode(config), True)
        log.info(
            "announced %d room(s) to Home Assistant under %s/ (%d message(s))",
            len(rooms),
            self._prefix,
            len(messages),
        )

    def ensure(self, room: str) -> None:
        """Announce (or, in remove mode, remove) a room the first time the hub hears of it;
        cheap enough to call on every message."""
        with self._lock:
            if room in self._seen:
                return
        self.announce([room])

    def announce_known(self) -> None:
        """Every room announced so far, again (Home Assistant restarted, or the broker did)."""
        with self._lock:
            rooms = sorted(self._rooms)
        self.announce(rooms)

    def remove(self, rooms: Iterable[str]) -> None:
        """Empty retained messages on every discovery topic of the hub and these rooms, in both
        layouts, so switching `per_entity` leaves nothing behind."""
        rooms = sorted(set(rooms))
        for topic in self.entities.all_topics(rooms):
            self._publish(topic, b"", True)
        with self._lock:
            self._rooms.difference_update(rooms)
            self._seen.update(rooms)
        log.info("removed %d room(s) from Home Assistant under %s/", len(rooms), self._prefix)

    def on_homeassistant_status(self, payload: bytes) -> None:
        """Home Assistant's birth message: it may have lost what it knew, so say it all again."""
        if self.mode == "announce" and payload.strip() == b"online":
            log.info("Home Assistant is online: announcing the rooms again")
            self.announce_known()

    def derive_room_state(
        self,
        room: str,
        *,
        temperature_c: float | None,
        conditions: Iterable[Condition],
        sensor_fault: bool = False,
        last_heard: datetime | None = None,
        outbox_pending: int | None = None,
        readings_waiting: int | None = None,
    ) -> RoomStateMessage:
        """The state for `state_topic(room)`, in the rules' comfort band: see
        hub.comfort.derive_room_state."""
        return derive_room_state(
            room,
            self._band,
            temperature_c=temperature_c,
            conditions=conditions,
            sensor_fault=sensor_fault,
            last_heard=last_heard,
            outbox_pending=outbox_pending,
            readings_waiting=readings_waiting,
        )

    def room_state(self, room: str, **known: Any) -> bytes:
        """The payload for `state_topic(room)` (`derive_room_state`, encoded)."""
        return self.derive_room_state(room, **known).encode()
