"""The Home Assistant discovery messages of the hub and its rooms, built purely from settings."""

from __future__ import annotations

import json
import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final
from urllib.parse import urlsplit

from contract.topics import (
    alert_topic,
    check_name,
    command_topic,
    hub_availability_topic,
    hub_storage_topic,
    reading_topic,
    room_state_topic,
    status_topic,
)
from hub.comfort import COMFORT_BANDS
from hub.config import HubConfig
from hub.messages import _room as room_words
from hub.messages.sources import source_name
from hub.sources.settings import source_for

Config = dict[str, Any]


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


class Entities:
    """What the hub and each room show in Home Assistant: one device each, its entities,
    and the topics their retained configs go to.

    Device-based messages (`<prefix>/device/<id>/config`) or, for Home Assistant older
    than 2024.12 (`per_entity`), one per entity. Nothing from the episode log goes here.
    """

    def __init__(self, settings: HubConfig, *, sw_version: str | None = None) -> None:
        ha = settings.homeassistant
        self.prefix = ha.prefix
        self._base = settings.mqtt.base_topic
        self._per_entity = ha.per_entity
        # Home Assistant shows a reading as unavailable once the hub would say "no data".
        self._expire_after = max(1, math.ceil(settings.rules.stale_after_s))
        self._sources = settings.hub.sources
        self._sw_version = sw_version or package_version()
        self._url = _http_url(settings.notify.public_url)

    @property
    def hub_availability(self) -> str:
        return hub_availability_topic(self._base)

    def state_topic(self, room: str) -> str:
        return room_state_topic(self._base, room)

    def device_id(self, room: str) -> str:
        """Stable across restarts: from the base topic and the room name only."""
        return f"nursery_monitor_{_slug(self._base)}_{check_name('room', room)}"

    @property
    def hub_device_id(self) -> str:
        return f"nursery_monitor_{_slug(self._base)}"

    def all_topics(self, rooms: list[str]) -> list[str]:
        """Every discovery topic of the hub and these rooms, in both layouts, so switching
        `per_entity` leaves nothing behind when they are emptied."""
        topics = self._all_layouts(self.hub_device_id, self._hub_components())
        for room in rooms:
            topics += self._all_layouts(self.device_id(room), self._room_components(room))
        return topics

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
                f"{self.prefix}/device/{device_id}/config": {
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
        return f"{self.prefix}/{platform}/{device_id}/{key}/config"

    def _all_layouts(self, device_id: str, components: dict[str, Config]) -> list[str]:
        return [
            f"{self.prefix}/device/{device_id}/config",
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
            "mdl": self._model(room),
            "sw": self._sw_version,
            "sa": name,
            "via_device": self.hub_device_id,
        }
        if self._url:
            device["cu"] = self._url
        return device

    def _model(self, room: str) -> str:
        source = source_for(self._sources, room)
        if source is None:
            return "Room temperature and humidity monitor"
        return f"Room temperature monitor ({source_name(source)})"

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
            },
            # On while the hub cannot save (a full or read-only SD card): docs/storage.md.
            "storage": {
                "p": "binary_sensor",
                "name": "Cannot save",
                "device_class": "problem",
                "state_topic": hub_storage_topic(self._base),
                "value_template": "{{ 'ON' if value_json.state == 'cannot_save' else 'OFF' }}",
                "json_attributes_topic": hub_storage_topic(self._base),
                "json_attributes_template": (
                    "{{ {'problem': value_json.problem, 'since': value_json.since} | tojson }}"
                ),
                "availability": [{"topic": self.hub_availability}],
            },
        }

    def _room_components(self, room: str) -> dict[str, Config]:
        """A Pi room's entities; a room fed by another system (hub.sources) has no reading
        topic of ours: its temperature comes from the hub's room state, and its humidity
        from that system's own entities in Home Assistant."""
        components = self._pi_components(room)
        source = source_for(self._sources, room)
        if source is None:
            return components
        components.pop("humidity")
        components["temperature"] = {
            **{k: v for k, v in components["temperature"].items() if "availab" not in k},
            "state_topic": self.state_topic(room),
            "value_template": "{{ value_json.temperature_c }}",
            "expire_after": max(1, math.ceil(source.stale_s)),
            "availability": [{"topic": self.hub_availability}],
        }
        return components

    def _pi_components(self, room: str) -> dict[str, Config]:
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


def encode(config: Config) -> bytes:
    return json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode()
