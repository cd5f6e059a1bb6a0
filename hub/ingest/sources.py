"""Messages from other systems' devices (hub.sources): which source a topic is, and what
its message means, each source's memory kept between messages (docs/sources.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from hub.sources.settings import SourceSettings

if TYPE_CHECKING:
    from hub.sources.tracker import Heard, Outcome

MAX_REMEMBERED_TOPICS: Final = 1024


class SourceFeed:
    """The writer thread's own: translates and judges each source message in turn."""

    def __init__(self, sources: Sequence[SourceSettings]) -> None:
        self._sources = tuple(sources)
        self.rooms = frozenset(source.room for source in sources)
        self._owners: dict[str, SourceSettings | None] = {}
        self._heard: dict[str, Heard] = {}

    # The translators load only in a hub that has sources (a Pi Zero's memory).

    def subscriptions(self) -> list[str]:
        if not self._sources:
            return []
        from hub.sources import registry

        return registry.subscriptions(self._sources)

    def owner(self, topic: str) -> SourceSettings | None:
        if not self._sources:
            return None
        if topic in self._owners:
            return self._owners[topic]
        from hub.sources import registry

        found = registry.owner(self._sources, topic)
        if len(self._owners) < MAX_REMEMBERED_TOPICS:
            self._owners[topic] = found
        return found

    def judge(
        self, source: SourceSettings, topic: str, payload: bytes, retained: bool, at: datetime
    ) -> Outcome:
        """Raises SourceError (a ContractError) for a payload of the wrong shape."""
        from hub.sources import registry
        from hub.sources.tracker import Heard, Outcome, judge

        update = registry.parse(source, topic, payload)
        if update is None:
            return Outcome()
        heard, outcome = judge(
            source,
            self._heard.get(source.room, Heard()),
            update,
            topic,
            payload,
            retained=retained,
            at=at,
        )
        self._heard[source.room] = heard
        return outcome
