"""Which translator reads which kind of source, and which source a topic belongs to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from hub.sources import esphome, shelly, tasmota, zigbee2mqtt
from hub.sources.settings import SourceKind, SourceSettings
from hub.sources.update import Update


class Adapter(NamedTuple):
    subscriptions: Callable[[SourceSettings], list[str]]
    parse: Callable[[SourceSettings, str, bytes], Update | None]


ADAPTERS: Final[dict[SourceKind, Adapter]] = {
    "zigbee2mqtt": Adapter(zigbee2mqtt.subscriptions, zigbee2mqtt.parse),
    "esphome": Adapter(esphome.subscriptions, esphome.parse),
    "shelly": Adapter(shelly.subscriptions, shelly.parse),
    "tasmota": Adapter(tasmota.subscriptions, tasmota.parse),
}


def subscriptions(sources: Sequence[SourceSettings]) -> list[str]:
    return [topic for source in sources for topic in ADAPTERS[source.kind].subscriptions(source)]


def parse(source: SourceSettings, topic: str, payload: bytes) -> Update | None:
    """What the message says, or None when the topic is not this source's; raises
    SourceError for a payload its system would never send."""
    return ADAPTERS[source.kind].parse(source, topic, payload)


def owner(sources: Sequence[SourceSettings], topic: str) -> SourceSettings | None:
    """The source whose subscriptions match the topic (filters with `+`, never `#`)."""
    levels = topic.split("/")
    for source in sources:
        for pattern in ADAPTERS[source.kind].subscriptions(source):
            parts = pattern.split("/")
            if len(parts) == len(levels) and all(
                p in ("+", t) for p, t in zip(parts, levels, strict=True)
            ):
                return source
    return None
