"""MQTT ingest: receive, validate, store in batches, and only then acknowledge.

paho's network thread only queues what arrives; one writer thread validates, commits and
sends each PUBACK after its commit (paho's manual ack), so a hub crash means redelivery,
never loss. The session is persistent (fixed client id, clean_session=False) so the broker
keeps what arrives while the hub is down. After a commit the writer also publishes each
touched room's receipt (retained, at most one a second per room): how far every boot is
stored without a gap, so the firmware can let go of those readings (docs/outbox.md).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    StoredMessage,
    decode_command,
    decode_status,
)
from contract.topics import (
    ContractError,
    Status,
    TopicKind,
    episode_stored_topic,
    hub_availability_topic,
    parse_topic,
    stored_topic,
    subscriptions,
)
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.episodes.log import EpisodeLog
from hub.episodes.storage import EpisodeStore
from hub.private_logs import printable
from hub.store.database import Received, Store
from mqttlink.client import QuietClient
from mqttlink.tls import refused_hint, secure_client, unreachable_hint

log = logging.getLogger("nursery.hub.ingest")

Clock = Callable[[], datetime]

# A room's receipt goes out at most this often; a backlog must not flood the broker.
RECEIPT_EVERY_S: Final = 1.0
# ... and waits this long after the first reading it covers, so that readings of several
# rooms arriving together share one fsync of the database (an SD card wears with each).
RECEIPT_GATHER_S: Final = 1.0
RECEIPT_QOS: Final = 1
MAX_REMEMBERED_TOPICS: Final = 1024
# A flood of broken messages must not flood the log (a Pi's SD card): at most this many
# rejections are logged one by one per window; /healthz counts every one.
REJECTIONS_LOGGED_PER_WINDOW: Final = 10
REJECTION_LOG_WINDOW_S: Final = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class IngestListener(Protocol):
    """Who hears about what ingest stored: the alert monitor."""

    def on_readings(self, batch: list[Received]) -> None: ...
    def on_status(self, room: str, status: Status, at: datetime) -> None: ...
    def on_fault(self, fault: FaultMessage, at: datetime) -> None: ...
    def on_health(self, health: HealthMessage) -> None: ...
    def on_command(self, room: str, action: Literal["ack", "snooze"], minutes: int) -> None: ...
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
    last_rejection: str | None = None


class _Incoming(NamedTuple):
    """What paho's thread hands over (a tuple: cheap to build at 20,000 a second)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime


@dataclass
class _Batch:
    readings: list[Received] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)


class _ReceiptSchedule:
    """Which rooms owe their firmware a receipt, and when they get it.

    A receipt waits `gather_s` after the first reading it covers, and a room gets at most
    one per `every_s`. Once one is due, every owed room allowed one by `every_s` rides
    along: one fsync covers them all.
    """

    def __init__(self, every_s: float, gather_s: float) -> None:
        self._every_s = every_s
        self._gather_s = gather_s
        self._last: dict[str, float] = {}
        self._owed: dict[str, float] = {}  # room → since when it owes its next receipt

    def owe(self, room: str, now: float) -> None:
        self._owed.setdefault(room, now)

    def _allowed(self, room: str, now: float) -> bool:
        return now - self._last.get(room, -math.inf) >= self._every_s

    def due(self, now: float, *, all_owed: bool = False) -> list[str]:
        if all_owed:
            return sorted(self._owed)
        allowed = [room for room in self._owed if self._allowed(room, now)]
        if not any(now - self._owed[room] >= self._gather_s for room in allowed):
            return []
        return sorted(allowed)

    def sent(self, room: str, now: float) -> None:
        self._last[room] = now
        self._owed.pop(room, None)

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next receipt is due; None when none is owed."""
        if not self._owed:
            return None
        return max(
            0.0,
            min(
                max(since + self._gather_s, self._last.get(room, -math.inf) + self._every_s)
                for room, since in self._owed.items()
            )
            - now,
        )


class Ingest:
    """Subscribes to every room's readings, statuses and faults and stores them."""

    def __init__(self, settings: HubConfig, store: Store, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._base = settings.mqtt.base_topic
        self.counters = IngestCounters()
        self.database_ok = True  # the last commit worked (the heartbeat reports it)
        self.listener: IngestListener | None = None
        self.discovery: Discovery | None = None
        self._availability = hub_availability_topic(self._base)
        self._broker = f"{settings.mqtt.host}:{settings.mqtt.port}"
        self._availability_defended = -math.inf  # monotonic time of the last re-publish
        self._queue: queue.SimpleQueue[_Incoming | None] = queue.SimpleQueue()
        self._receipts = _ReceiptSchedule(RECEIPT_EVERY_S, RECEIPT_GATHER_S)  # the writer's own
        self._topics: dict[str, tuple[str, TopicKind]] = {}  # the writer thread's own
        self._episodes: EpisodeStore | None = None  # the writer thread's own, opened on use
        self._rejection_window = (-math.inf, 0, 0)  # the writer's own: start, logged, not
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._client = QuietClient(  # paho's Client, its network thread woken by work only
            CallbackAPIVersion.VERSION2,
            client_id=settings.hub.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        secure_client(self._client, settings.mqtt)  # login, and TLS with mqtt.tls
        self._client.reconnect_delay_set(1, 30)
        # Home Assistant and others see the hub go "offline" when it dies.
        self._client.will_set(self._availability, b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._down_reported = False  # said once per outage which setting to check
        self._client.on_message = self._on_message

    @property
    def writing(self) -> bool:
        """The writer thread is alive (it stores and acknowledges every message)."""
        return self._writer.is_alive()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        mqtt_settings = self._settings.mqtt
        log.info("connecting to MQTT broker %s:%d", mqtt_settings.host, mqtt_settings.port)
        self._writer.start()
        self._client.connect_async(
            mqtt_settings.host, mqtt_settings.port, keepalive=mqtt_settings.keepalive_s
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Store and acknowledge what has arrived, then disconnect."""
        self._stopping.set()
        self._queue.put(None)
        if self._writer.is_alive():
            self._writer.join(timeout=10)
        if self._connected.is_set():
            # A clean disconnect does not fire the last will: say "offline" ourselves.
            try:
                info = self._client.publish(self._availability, b"offline", qos=1, retain=True)
                info.wait_for_publish(2)
            except (RuntimeError, ValueError) as exc:
                log.info("could not publish the hub's offline status: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()

    # --- paho's network thread: never block here ------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            if not self._down_reported:
                self._down_reported = True
                log.error(
                    "MQTT broker %s refused the hub: %s; %s",
                    self._broker,
                    reason_code,
                    refused_hint(reason_code),
                )
            return
        self._down_reported = False
        self._connected.set()
        log.info(
            "connected to MQTT broker (session %s)",
            "resumed" if flags.session_present else "new",
        )
        topics = subscriptions(self._base)
        if self.discovery is not None:
            topics += self.discovery.subscriptions()
        client.subscribe([(topic, 1) for topic in topics])
        # QoS 0: only to notice someone else's "offline" (it needs no ack of ours).
        client.subscribe(self._availability, qos=0)
        client.publish(self._availability, b"online", qos=1, retain=True)
        # The broker may have restarted without persistence: say our state again.
        threading.Thread(target=self._announce, daemon=True).start()

    def _announce(self) -> None:
        try:
            if self.listener is not None:
                self.listener.republish()
            if self.discovery is not None:
                self.discovery.announce([room.name for room in self._store.rooms()])
        except Exception:
            log.exception("could not re-announce the hub's state")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if not self._down_reported:
            self._down_reported = True
            log.error(
                "cannot reach MQTT broker %s; retrying in the background; %s",
                self._broker,
                unreachable_hint(),
            )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if self._stopping.is_set():
            log.info("disconnected from MQTT broker")
        elif self._connected.is_set():
            log.warning("disconnected from MQTT broker (%s); reconnecting", reason_code)
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._availability:
            # A retained copy predates the "online" we publish on connecting: that replaces it.
            if not message.retain:
                self._keep_available(client, bytes(message.payload))
            return
        self._queue.put(
            _Incoming(
                message.topic, bytes(message.payload), message.mid, message.qos, self._clock()
            )
        )

    def _keep_available(self, client: mqtt.Client, payload: bytes) -> None:
        """On a broker without an ACL anyone may publish a retained "offline" for the hub,
        and Home Assistant would show every room unavailable: say "online" again."""
        if payload == b"online" or self._stopping.is_set() or not self._connected.is_set():
            return
        now = time.monotonic()
        if now - self._availability_defended >= 60:
            log.warning(
                "someone else published %r on %s; publishing online again",
                payload[:32],
                self._availability,
            )
        self._availability_defended = now
        client.publish(self._availability, b"online", qos=1, retain=True)

    # --- the writer thread ----------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            wait_s = self._receipts.wait_s(time.monotonic())
            try:
                first = self._queue.get(timeout=wait_s)
            except queue.Empty:
                self._send_receipts()
                continue
            if first is None:
                if self._stopping.is_set() and self._queue.empty():
                    self._send_receipts(all_owed=True)
                    if self._episodes is not None:
                        self._episodes.close()
                    return
                continue
            items = [first]
            # Group commit: whatever arrived while the last commit ran shares this one.
            while len(items) < self._settings.hub.batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # keep the stop marker for the outer loop
                    break
                items.append(item)
            self._handle(items)
            self._send_receipts()

    def _handle(self, items: list[_Incoming]) -> None:
        batch = _Batch()
        for item in items:
            try:
                self._route(item, batch)
            except ContractError as exc:
                self._reject(item, str(exc))
            except Exception:  # one bad write must not stop ingest
                self.counters.store_errors += 1
                log.exception("cannot record message on %s", item.topic[:80])
            batch.acks.append((item.mid, item.qos))
        self._commit(batch)

    def _parse_topic(self, topic: str) -> tuple[str, TopicKind]:
        """parse_topic, remembered: a backlog repeats a handful of topics thousands of times."""
        parsed = self._topics.get(topic)
        if parsed is None:
            parsed = parse_topic(self._base, topic)  # raises for a bad one: never remembered
            if len(self._topics) < MAX_REMEMBERED_TOPICS:
                self._topics[topic] = parsed
        return parsed

    def _route(self, item: _Incoming, batch: _Batch) -> None:
        if self.discovery is not None and self.discovery.handles(item.topic):
            self.discovery.on_homeassistant_status(item.payload)
            return
        room, kind = self._parse_topic(item.topic)
        self._dispatch(room, kind, item, batch)
        if kind != "command" and self.discovery is not None:
            # Only after the message passed the contract: garbage creates no device.
            self.discovery.ensure(room)

    def _dispatch(self, room: str, kind: TopicKind, item: _Incoming, batch: _Batch) -> None:
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
            self._notify_listener(
                lambda listener: listener.on_status(room, status, item.received_at)
            )
        elif kind == "health":
            if not item.payload:
                return
            health = HealthMessage.decode(item.payload)
            if health.room != room:
                raise ContractError(f"room {health.room!r} does not match the topic")
            self._store.set_health(health, item.received_at)
            self._notify_listener(lambda listener: listener.on_health(health))
            self.counters.healths += 1
            self._receipts.owe(room, time.monotonic())  # its floor may have moved a mark
        elif kind == "command":
            action, minutes = decode_command(item.payload)
            self.counters.commands += 1
            self._notify_listener(lambda listener: listener.on_command(room, action, minutes))
        elif kind == "episode":
            self._episode_event(room, item)
        else:
            fault = FaultMessage.decode(item.payload)
            if fault.room != room:
                raise ContractError(f"room {fault.room!r} does not match the topic")
            self._store.add_fault(fault, item.received_at)
            self.counters.faults += 1
            self._notify_listener(lambda listener: listener.on_fault(fault, item.received_at))
            log.warning(
                "sensor fault in %s: %s (%d in a row)",
                room,
                printable(fault.error),
                fault.consecutive_failures,
            )

    def _episode_event(self, room: str, item: _Incoming) -> None:
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

    def _send_receipts(self, *, all_owed: bool = False) -> None:
        """Publish the receipts that are due (after their commit, never before)."""
        now = time.monotonic()
        rooms = self._receipts.due(now, all_owed=all_owed)
        if not rooms:
            return
        try:
            self._store.sync()  # a receipt must never claim what a power cut could undo
        except OSError as exc:
            log.error("cannot sync the database (%s); receipts wait", exc)
            for room in rooms:
                self._receipts.sent(room, now)
                self._receipts.owe(room, now)
            return
        for room in rooms:
            try:
                marks = self._store.receipt(room)
            except Exception:
                log.exception("cannot read the marks of %s; its receipt waits", room)
                self._receipts.sent(room, now)  # keep to the rate even while failing
                self._receipts.owe(room, now)
                continue
            self._receipts.sent(room, now)
            if marks:
                self._client.publish(
                    stored_topic(self._base, room),
                    StoredMessage(room, marks).encode(),
                    qos=RECEIPT_QOS,
                    retain=True,
                )

    def _notify_listener(self, call: Callable[[IngestListener], None]) -> None:
        """Tell the listener after the commit; its failure must never stop ingest."""
        if self.listener is None:
            return
        try:
            call(self.listener)
        except Exception:
            log.exception("the alert monitor failed on a message; ingest goes on")

    def publish(self, topic: str, payload: bytes, retain: bool = True) -> None:
        """Publish the hub's own state (alert state, retained by default) at QoS 1."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    def _reject(self, item: _Incoming, reason: str) -> None:
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

    def _commit(self, batch: _Batch) -> None:
        """Commit the batch, retrying while the database fails, acknowledge it, then tell
        the monitor about the new readings."""
        delay = 0.5
        new: list[Received] = []
        while batch.readings:
            try:
                new = self._store.add_readings(batch.readings)
            except Exception as exc:  # a full disk or locked file must not lose the batch
                self.counters.store_errors += 1
                self.database_ok = False
                log.error("cannot store %d readings (%s); retrying", len(batch.readings), exc)
                if self._stopping.wait(delay):
                    return  # not acknowledged: the broker redelivers after restart
                delay = min(delay * 2, 30)
                continue
            self.database_ok = True
            self.counters.stored += len(new)
            self.counters.duplicates += len(batch.readings) - len(new)
            now = time.monotonic()
            for item in batch.readings:
                # Duplicates too: a receipt says the hub is alive and where it stands.
                self._receipts.owe(item.reading.room, now)
            break
        for mid, qos in batch.acks:
            if qos > 0:
                self._client.ack(mid, qos)
        if new:
            self._notify_listener(lambda listener: listener.on_readings(new))
