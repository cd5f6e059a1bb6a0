"""Ingest's message handling: each message checked against the contract by its topic, then
stored, handed to the alert monitor, or counted and logged as rejected."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, NamedTuple, Protocol

import paho.mqtt.client as mqtt

from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    decode_command,
    decode_status,
)
from contract.topics import ContractError, Status, TopicKind, episode_stored_topic, parse_topic
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.episodes.log import EpisodeLog
from hub.episodes.storage import EpisodeStore
from hub.ingest.receipts import Receipts
from hub.ingest.sources import SourceFeed
from hub.private_logs import printable
from hub.sources.settings import SourceSettings
from hub.store.database import Received, Store
from hub.store.disk_health import SaveHealth

log = logging.getLogger("nursery.hub.ingest")

Clock = Callable[[], datetime]

MAX_REMEMBERED_TOPICS: Final = 1024
# A flood of broken messages must not flood the log (a Pi's SD card): at most this many
# rejections are logged one by one per window; /healthz counts every one.
REJECTIONS_LOGGED_PER_WINDOW: Final = 10
REJECTION_LOG_WINDOW_S: Final = 60.0


class IngestListener(Protocol):
    """Who hears about what ingest stored: the alert monitor."""

    def on_readings(self, batch: list[Received]) -> None: ...
    def on_status(self, room: str, status: Status, at: datetime) -> None: ...
    def on_fault(self, fault: FaultMessage, at: datetime) -> None: ...
    def on_health(self, health: HealthMessage) -> None: ...
    def on_command(self, room: str, action: Literal["ack", "snooze"], minutes: int) -> None: ...
    def on_battery(self, room: str, percent: float, at: datetime) -> None: ...
    def republish(self) -> None: ...


@dataclass
class IngestCounters:
    """What /healthz reports; plain ints updated by the writer thread only."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: int = 0
    faults: int = 0
    healths: int = 0
    commands: int = 0
    episode_events: int = 0  # episode-button presses (counts only: health data stays out)
    store_errors: int = 0
    source_skipped: int = 0  # other systems' retained or repeated states, not stored
    last_rejection: str | None = None


class Incoming(NamedTuple):
    """What paho's thread hands over (a tuple: cheap to build at 20,000 a second)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime
    retained: bool = False


@dataclass
class Batch:
    readings: list[Received] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)


class Router:
    """Handles one message after another for ingest's writer thread, whose own it is."""

    def __init__(
        self,
        settings: HubConfig,
        store: Store,
        client: mqtt.Client,
        receipts: Receipts,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._receipts = receipts
        self._clock = clock
        self._base = settings.mqtt.base_topic
        self.counters = IngestCounters()
        self.listener: IngestListener | None = None
        self.discovery: Discovery | None = None
        self.save_health: SaveHealth | None = None
        self._topics: dict[str, tuple[str, TopicKind]] = {}
        self._episodes: EpisodeStore | None = None  # opened on the first button press
        self._rejection_window = (-math.inf, 0, 0)  # start, logged, not logged
        self.sources = SourceFeed(settings.hub.sources)

    def close(self) -> None:
        if self._episodes is not None:
            self._episodes.close()

    def handle(self, item: Incoming, batch: Batch) -> None:
        """Add the message to the batch or act on it; never raises: a bad message is
        rejected, a failed write counted, and ingest goes on."""
        try:
            self._route(item, batch)
        except ContractError as exc:
            self._reject(item, str(exc))
        except Exception as exc:  # one bad write must not stop ingest
            self.counters.store_errors += 1
            if self.save_health is not None and self.save_health.check(exc):
                log.error("cannot record message on %s (%s)", item.topic[:80], exc)
                return  # the disk's fault, said once by the save alarm: no traceback
            log.exception("cannot record message on %s", item.topic[:80])

    def _parse_topic(self, topic: str) -> tuple[str, TopicKind]:
        """parse_topic, remembered: a backlog repeats a handful of topics thousands of times."""
        parsed = self._topics.get(topic)
        if parsed is None:
            parsed = parse_topic(self._base, topic)  # raises for a bad one: never remembered
            if len(self._topics) < MAX_REMEMBERED_TOPICS:
                self._topics[topic] = parsed
        return parsed

    def _route(self, item: Incoming, batch: Batch) -> None:
        if self.discovery is not None and self.discovery.handles(item.topic):
            self.discovery.on_homeassistant_status(item.payload)
            return
        source = self.sources.owner(item.topic)
        if source is not None:
            self._from_source(source, item, batch)
            if self.discovery is not None:
                self.discovery.ensure(source.room)
            return
        room, kind = self._parse_topic(item.topic)
        if room in self.sources.rooms and kind != "command":
            # Two sensors in one room's rules would judge neither: the setting decides.
            raise ContractError(f"room {room!r} is fed by hub.sources, not by a Pi")
        self._dispatch(room, kind, item, batch)
        if kind != "command" and self.discovery is not None:
            # Only after the message passed the contract: garbage creates no device.
            self.discovery.ensure(room)

    def _dispatch(self, room: str, kind: TopicKind, item: Incoming, batch: Batch) -> None:
        if kind == "reading":
            reading = ReadingMessage.decode(item.payload)
            if reading.room != room:
                raise ContractError(f"room {reading.room!r} does not match the topic")
            batch.readings.append(Received(reading, item.received_at))
        elif kind == "status":
            if not item.payload:
                return  # a retained status being cleared: nothing to record
            status = decode_status(item.payload)
            self._store.set_status(room, status, item.received_at)
            self.counters.statuses += 1
            self.notify_listener(
                lambda listener: listener.on_status(room, status, item.received_at)
            )
        elif kind == "health":
            if not item.payload:
                return
            health = HealthMessage.decode(item.payload)
            if health.room != room:
                raise ContractError(f"room {health.room!r} does not match the topic")
            self._store.set_health(health, item.received_at)
            self.notify_listener(lambda listener: listener.on_health(health))
            self.counters.healths += 1
            self._receipts.owe(room, time.monotonic())  # its floor may have moved a mark
        elif kind == "command":
            action, minutes = decode_command(item.payload)
            self.counters.commands += 1
            self.notify_listener(lambda listener: listener.on_command(room, action, minutes))
        elif kind == "episode":
            self._episode_event(room, item)
        else:
            fault = FaultMessage.decode(item.payload)
            if fault.room != room:
                raise ContractError(f"room {fault.room!r} does not match the topic")
            self._store.add_fault(fault, item.received_at)
            self.counters.faults += 1
            self.notify_listener(lambda listener: listener.on_fault(fault, item.received_at))
            log.warning(
                "sensor fault in %s: %s (%d in a row)",
                room,
                printable(fault.error),
                fault.consecutive_failures,
            )

    def _from_source(self, source: SourceSettings, item: Incoming, batch: Batch) -> None:
        """Another system's message: its reading joins the batch like a Pi's; its
        availability is the room's status; its battery goes to the monitor."""
        room, at = source.room, item.received_at
        outcome = self.sources.judge(source, item.topic, item.payload, item.retained, at)
        if outcome.reading is not None:
            batch.readings.append(Received(outcome.reading, at))
        if outcome.online is not None:
            status: Status = "online" if outcome.online else "offline"
            self._store.set_status(room, status, at)
            self.counters.statuses += 1
            self.notify_listener(lambda listener: listener.on_status(room, status, at))
        if outcome.fault is not None:
            fault = outcome.fault
            self._store.add_fault(fault, at)
            self.counters.faults += 1
            self.notify_listener(lambda listener: listener.on_fault(fault, at))
        if outcome.battery_pct is not None:
            percent = outcome.battery_pct
            self.notify_listener(lambda listener: listener.on_battery(room, percent, at))
        if outcome.skipped is not None:
            self.counters.source_skipped += 1

    def _episode_event(self, room: str, item: Incoming) -> None:
        """The Pi's episode button: apply the event once (a redelivery changes nothing),
        then tell the firmware it is stored, after the commit and for duplicates too, so
        it stops re-sending. Nothing about the episode is logged: it is health data."""
        event = EpisodeEventMessage.decode(item.payload)
        if event.room != room:
            raise ContractError(f"room {event.room!r} does not match the topic")
        if self._episodes is None:
            self._episodes = EpisodeStore(self._settings.hub.db)
        log = EpisodeLog(self._settings, self._store, self._episodes, self._clock())
        log.button(event, item.received_at)  # committed (and fsynced) when it returns
        self.counters.episode_events += 1
        self._client.publish(
            episode_stored_topic(self._base, room),
            EpisodeStoredMessage(room, event.event_id).encode(),
            qos=1,
            retain=False,
        )

    def notify_listener(self, call: Callable[[IngestListener], None]) -> None:
        """Tell the listener after the commit; its failure must never stop ingest."""
        if self.listener is None:
            return
        try:
            call(self.listener)
        except Exception:
            log.exception("the alert monitor failed on a message; ingest goes on")

    def _reject(self, item: Incoming, reason: str) -> None:
        self.counters.rejected += 1
        line = f"{item.topic[:80]}: {reason[:160]}"
        self.counters.last_rejection = line
        # An episode event is health data: say that one was refused, never what it held.
        shown = "not shown" if item.topic.endswith("/episode") else repr(item.payload[:60])
        started, logged, unlogged = self._rejection_window
        now = time.monotonic()
        if now - started >= REJECTION_LOG_WINDOW_S:
            if unlogged:
                log.warning("%d more messages were rejected without a log line", unlogged)
            started, logged, unlogged = now, 0, 0
        if logged < REJECTIONS_LOGGED_PER_WINDOW:
            logged += 1
            last = logged == REJECTIONS_LOGGED_PER_WINDOW
            more = "; more this minute are only counted" if last else ""
            log.warning("rejected message on %s (payload %s)%s", printable(line), shown, more)
        else:
            unlogged += 1
        self._rejection_window = (started, logged, unlogged)
