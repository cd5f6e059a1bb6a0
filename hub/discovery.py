"""Home Assistant MQTT discovery: every room appears in Home Assistant by itself.

One device per room (readings, comfort band, too cold, monitor problem, alert state, an
acknowledge and a snooze button, and two diagnostics), linked to a device for the hub.
The messages are retained, device-based (`<prefix>/device/<id>/config`) or, for Home
Assistant older than 2024.12, one per entity; they are sent again when Home Assistant says
`online`, and emptied to remove the entities. Building them is pure; the only I/O is the
`publish` callable the hub hands in. Nothing from the episode log ever goes out here.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from contract.topics import (
    alert_topic,
    check_name,
    command_topic,
    hub_availability_topic,
    reading_topic,
    room_state_topic,
    status_topic,
)
from hub.config import HubConfig
from hub.monitor.comfort import COMFORT_BANDS, ComfortBand, RoomStateMessage, derive_room_state
from hub.monitor.conditions import Condition
from hub.monitor.messages import _room as room_words

log = logging.getLogger("nursery.hub.discovery")

# (topic, payload, retain): the hub's MQTT client publishes at QoS 1.
Publish = Callable[[str, bytes, bool], None]
Platform = Literal["sensor", "binary_sensor", "button"]
Config = dict[str, Any]
Mode = Literal["announce", "remove", "off"]

ORIGIN_NAME: Final = "nursery-monitor"
MANUFACTURER: Final = "nursery-monitor"
ALERT_STATES: Final = ("ok", "warning", "alert", "acknowledged", "snoozed")
ACK_PAYLOAD: Final = "ack"
SNOOZE_PAYLOAD: Final = "snooze 30"


def package_version() -> str:
    try:
        return version("nursery-monitor")
    except PackageNotFoundError:
        return "unknown"


def _http_url(url: str | None) -> str | None:
    """Home Assistant refuses the whole device over a bad URL: pass only http(s) ones."""
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _slug(base: str) -> str:
    return base.replace("/", "_")


class Discovery:
    """Announces, re-announces and removes the hub's rooms in Home Assistant.

    Thread-safe: ingest's writer thread (a room seen for the first time, Home Assistant's
    status) and the lifespan (start, reconnect) may call in at once.
    """

    def __init__(
        self, settings: HubConfig, publish: Publish, *, sw_version: str | None = None
    ) -> None:
        ha = settings.homeassistant
        self._publish = publish
        self._prefix = ha.prefix
        self._base = settings.mqtt.base_topic
        self._per_entity = ha.per_entity
        self.mode: Mode = "remove" if ha.remove else "announce" if ha.discovery else "off"
        # Home Assistant shows a reading as unavailable once the hub would say "no data".
        self._expire_after = max(1, math.ceil(settings.rules.stale_after_s))
        self._band = ComfortBand.from_rules(settings.rules)
        self._sw_version = sw_version or package_version()
        self._url = _http_url(settings.notify.public_url)
        self._lock = threading.Lock()
        self._rooms: set[str] = set()  # announced: said again when Home Assistant comes online
        self._seen: set[str] = set()  # announced or removed: ensure() leaves them be

    # --- topics -----------------------------------------------------------------------

    @property
    def hub_availability(self) -> str:
        return hub_availability_topic(self._base)

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
        return room_state_topic(self._base, room)

    def device_id(self, room: str) -> str:
        """Stable across restarts: from the base topic and the room name only."""
        return f"nursery_monitor_{_slug(self._base)}_{check_name('room', room)}"

    @property
    def hub_device_id(self) -> str:
        return f"nursery_monitor_{_slug(self._base)}"

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
            self._publish(topic, _encode(config), True)
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
        topics = self._all_layouts(self.hub_device_id, self._hub_components())
        for room in rooms:
            topics += self._all_layouts(self.device_id(room), self._room_components(room))
        for topic in topics:
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
        hub.monitor.comfort.derive_room_state."""
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

    # --- building the messages (pure) -----------------------------------------------------

    def configs(self, room: str) -> dict[str, Config]:
        """A room's discovery messages: topic → JSON object, in the configured layout."""
        return self._layout(
            self.device_id(room), self._room_device(room), self._room_components(room)
        )

    def hub_configs(self) -> dict[str, Config]:
        """The hub's own device (its connection), which every room names as `via_device`."""
        return self._layout(self.hub_device_id, self._hub_device(), self._hub_components())

    def _layout(
        self, device_id: str, device: Config, components: dict[str, Config]
    ) -> dict[str, Config]:
        origin = self._origin()
        cmps = {
            key: {**config, "unique_id": f"{device_id}_{key}"} for key, config in components.items()
        }
        if not self._per_entity:
            return {
                f"{self._prefix}/device/{device_id}/config": {
                    "dev": device,
                    "o": origin,
                    "cmps": cmps,
                }
            }
        # One message per entity: the platform is in the topic, `p` is for device messages only.
        return {
            self._entity_topic(config["p"], device_id, key): {
                **{name: value for name, value in config.items() if name != "p"},
                "dev": device,
                "o": origin,
            }
            for key, config in cmps.items()
        }

    def _entity_topic(self, platform: str, device_id: str, key: str) -> str:
        return f"{self._prefix}/{platform}/{device_id}/{key}/config"

    def _all_layouts(self, device_id: str, components: dict[str, Config]) -> list[str]:
        return [
            f"{self._prefix}/device/{device_id}/config",
            *(
                self._entity_topic(config["p"], device_id, key)
                for key, config in components.items()
            ),
        ]

    def _origin(self) -> Config:
        origin: Config = {"name": ORIGIN_NAME, "sw": self._sw_version}
        if self._url:
            origin["url"] = self._url
        return origin

    def _hub_device(self) -> Config:
        device: Config = {
            "ids": [self.hub_device_id],
            "name": "Nursery monitor hub",
            "mf": MANUFACTURER,
            "mdl": "Hub",
            "sw": self._sw_version,
        }
        if self._url:
            device["cu"] = self._url
        return device

    def _room_device(self, room: str) -> Config:
        name = room_words(room)
        device: Config = {
            "ids": [self.device_id(room)],
            "name": name,
            "mf": MANUFACTURER,
            "mdl": "Room temperature and humidity monitor",
            "sw": self._sw_version,
            "sa": name,
            "via_device": self.hub_device_id,
        }
        if self._url:
            device["cu"] = self._url
        return device

    def _hub_components(self) -> dict[str, Config]:
        # No availability of its own: it *is* the hub's availability, off when the hub is gone.
        return {
            "connection": {
                "p": "binary_sensor",
                "name": "Connection",
                "device_class": "connectivity",
                "entity_category": "diagnostic",
                "state_topic": self.hub_availability,
                "payload_on": "online",
                "payload_off": "offline",
            }
        }

    def _room_components(self, room: str) -> dict[str, Config]:
        """What a room shows. Readings come straight from the firmware and need both it and
        the hub; what the hub derives (alert, problem, last heard) needs only the hub, so a
        monitor that went quiet shows as a problem rather than as unavailable."""
        base = self._base
        readings = reading_topic(base, room)
        state = self.state_topic(room)
        alert = alert_topic(base, room)
        command = command_topic(base, room)
        firmware_and_hub: Config = {
            "availability": [{"topic": status_topic(base, room)}, {"topic": self.hub_availability}],
            "availability_mode": "all",
        }
        hub_only: Config = {"availability": [{"topic": self.hub_availability}]}
        bands = "', '".join(COMFORT_BANDS)
        return {
            "temperature": {
                "p": "sensor",
                "name": "Temperature",
                "device_class": "temperature",
                "state_class": "measurement",
                "unit_of_measurement": "°C",
                "suggested_display_precision": 1,
                "state_topic": readings,
                "value_template": "{{ value_json.temperature_c }}",
                "expire_after": self._expire_after,
                **firmware_and_hub,
            },
            "humidity": {
                "p": "sensor",
                "name": "Humidity",
                "device_class": "humidity",
                "state_class": "measurement",
                "unit_of_measurement": "%",
                "suggested_display_precision": 0,
                "state_topic": readings,
                "value_template": "{{ value_json.humidity_pct }}",
                "expire_after": self._expire_after,
                **firmware_and_hub,
            },
            "comfort": {
                "p": "sensor",
                "name": "Comfort",
                "icon": "mdi:home-thermometer-outline",
                "device_class": "enum",
                "options": list(COMFORT_BANDS),
                "state_topic": state,
                # "None" is how an MQTT sensor is told "unknown".
                "value_template": (
                    f"{{{{ value_json.comfort if value_json.comfort in ['{bands}'] else None }}}}"
                ),
                **hub_only,
            },
            "too_cold": {
                "p": "binary_sensor",
                "name": "Too cold",
                "device_class": "cold",
                "state_topic": state,
                "value_template": "{{ 'ON' if value_json.too_cold else 'OFF' }}",
                **hub_only,
            },
            "problem": {
                "p": "binary_sensor",
                "name": "Monitor problem",
                "device_class": "problem",
                "state_topic": state,
                "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
                "json_attributes_topic": state,
                "json_attributes_template": "{{ {'reason': value_json.problem_reason} | tojson }}",
                **hub_only,
            },
            "alert": {
                "p": "sensor",
                "name": "Alert",
                "icon": "mdi:bell-outline",
                "device_class": "enum",
                "options": list(ALERT_STATES),
                "state_topic": alert,
                "value_template": "{{ value_json.state }}",
                "json_attributes_topic": alert,
                # The top alert's details, and every open alert of the room, most urgent
                # first, with how many still wait for an answer.
                "json_attributes_template": (
                    "{{ {'since': value_json.since, 'condition': value_json.condition, "
                    "'acknowledged_by': value_json.acknowledged_by, "
                    "'unanswered': value_json.open | selectattr('state', 'eq', 'open') "
                    "| list | length, 'open_alerts': value_json.open} | tojson }}"
                ),
                **hub_only,
            },
            "acknowledge": {
                "p": "button",
                "name": "Acknowledge alert",
                "icon": "mdi:bell-check-outline",
                "command_topic": command,
                "payload_press": ACK_PAYLOAD,
                "qos": 1,
                "retain": False,
                **hub_only,
            },
            "snooze": {
                "p": "button",
                "name": "Snooze alert 30 min",
                "icon": "mdi:bell-sleep-outline",
                "command_topic": command,
                "payload_press": SNOOZE_PAYLOAD,
                "qos": 1,
                "retain": False,
                **hub_only,
            },
            "last_heard": {
                "p": "sensor",
                "name": "Last heard from",
                "device_class": "timestamp",
                "entity_category": "diagnostic",
                "state_topic": state,
                "value_template": "{{ value_json.last_heard if value_json.last_heard else None }}",
                **hub_only,
            },
            # Not the health message's outbox_pending: that counts the reading just sent
            # until its receipt, so it would say 1 when nothing waits.
            "outbox": {
                "p": "sensor",
                "name": "Readings waiting to send",
                "icon": "mdi:tray-full",
                "entity_category": "diagnostic",
                "state_class": "measurement",
                "unit_of_measurement": "readings",
                "state_topic": state,
                "value_template": (
                    "{{ value_json.readings_waiting "
                    "if value_json.readings_waiting is number else None }}"
                ),
                **firmware_and_hub,
            },
        }


def _encode(config: Config) -> bytes:
    return json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode()
