"""MQTT ingest: receive, validate, store in batches, and only then acknowledge (docs/mqtt.md)."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contract.topics import hub_availability_topic, subscriptions
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.ingest.receipts import Receipts
from hub.ingest.routing import Batch, Incoming, IngestListener, Router
from hub.ingest.writer_pass import WriterPass
from hub.store.database import Received, Store
from hub.store.disk_health import SaveHealth, SaveState
from mqttlink.client import QuietClient
from mqttlink.tls import refused_hint, secure_client, unreachable_hint

log = logging.getLogger("nursery.hub.ingest")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ingest:
    """Subscribes to every room's readings, statuses and faults and stores them.

    paho's network thread only queues what arrives; one writer thread checks each message
    (Router), commits the batch and only then sends each PUBACK (paho's manual ack), so a
    hub crash means redelivery, never loss. The session is persistent (fixed client id,
    clean_session=False): the broker keeps what arrives while the hub is down. After a
    commit the writer sends each touched room's receipt (Receipts). What one pass of the
    writer sends reaches paho at the pass's end (WriterPass).
    """

    def __init__(self, settings: HubConfig, store: Store, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._base = settings.mqtt.base_topic
        self.database_ok = True  # the last commit worked (the heartbeat reports it)
        self.save_health: SaveHealth | None = None  # told of each failed or working commit
        self._retry = threading.Event()  # wakes a commit waiting to retry (space is back)
        self._availability = hub_availability_topic(self._base)
        self._broker = f"{settings.mqtt.host}:{settings.mqtt.port}"
        self._availability_defended = -math.inf  # monotonic time of the last re-publish
        self._queue: queue.SimpleQueue[Incoming | None] = queue.SimpleQueue()
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
        self._pass = WriterPass(self._client)  # the writer's packets, sent after each pass
        self._receipts = Receipts(store, self._pass, self._base)  # the writer's own
        self._router = Router(settings, store, self._client, self._receipts, clock)
        self.counters = self._router.counters

    @property
    def listener(self) -> IngestListener | None:
        """Told about what was stored (the alert monitor); set before start()."""
        return self._router.listener

    @listener.setter
    def listener(self, listener: IngestListener | None) -> None:
        self._router.listener = listener

    @property
    def discovery(self) -> Discovery | None:
        """Home Assistant discovery, told about each room heard of; set before start()."""
        return self._router.discovery

    @discovery.setter
    def discovery(self, discovery: Discovery | None) -> None:
        self._router.discovery = discovery

    @property
    def writing(self) -> bool:
        """The writer thread is alive (it stores and acknowledges every message)."""
        return self._writer.is_alive()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def watch_saving(self, health: SaveHealth) -> None:
        """Share the hub's SaveHealth; set before start(). A write that works elsewhere (the
        save alarm's probe) wakes a commit waiting to retry."""
        self.save_health = self._router.save_health = health

        def on_change(state: SaveState) -> None:
            if state.problem is None:
                self._retry.set()

        health.observe(on_change)

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
        self._retry.set()
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
        # Other systems' devices at QoS 0: what they said while the hub was down would
        # come late and look fresh (docs/sources.md).
        sources = [(topic, 0) for topic in self._router.sources.subscriptions()]
        client.subscribe([(topic, 1) for topic in topics] + sources)
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
            Incoming(
                message.topic,
                bytes(message.payload),
                message.mid,
                message.qos,
                self._clock(),
                bool(message.retain),
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
                self._receipts.send_due()
                continue
            if first is None:
                if self._stopping.is_set() and self._queue.empty():
                    self._receipts.send_due(all_owed=True)
                    self._router.close()
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
            self._pass.hold()
            try:
                self._handle(items)
                self._receipts.send_due()
            finally:
                self._pass.send()

    def publish(self, topic: str, payload: bytes, retain: bool = True) -> None:
        """Publish the hub's own state (alert state, retained by default) at QoS 1."""
        self._pass.publish(topic, payload, qos=1, retain=retain)

    def _handle(self, items: list[Incoming]) -> None:
        batch = Batch()
        for item in items:
            self._router.handle(item, batch)
            batch.acks.append((item.mid, item.qos))
        self._commit(batch)

    def _commit(self, batch: Batch) -> None:
        """Commit the batch, retrying while the database fails, acknowledge it, then tell
        the monitor about the new readings."""
        delay = 0.5
        new: list[Received] = []
        while batch.readings:
            try:
                new = self._store.add_readings(batch.readings)
            except Exception as exc:  # a full disk or locked file must not lose the batch
                # Nothing of the batch is acknowledged while it waits: the broker keeps
                # what follows, the firmware its outbox (no receipt moves either).
                self.counters.store_errors += 1
                self.database_ok = False
                if self.save_health is not None:
                    self.save_health.check(exc)
                log.error("cannot store %d readings (%s); retrying", len(batch.readings), exc)
                self._retry.wait(delay)
                self._retry.clear()
                if self._stopping.is_set():
                    return  # not acknowledged: the broker redelivers after restart
                delay = min(delay * 2, 30)
                continue
            self.database_ok = True
            if self.save_health is not None:
                self.save_health.saved()
            self.counters.stored += len(new)
            self.counters.duplicates += len(batch.readings) - len(new)
            now = time.monotonic()
            for item in batch.readings:
                # Duplicates too: a receipt says the hub is alive and where it stands.
                # Another system's device reads no receipt.
                if item.reading.room not in self._router.sources.rooms:
                    self._receipts.owe(item.reading.room, now)
            break
        for mid, qos in batch.acks:
            if qos > 0:
                self._pass.ack(mid, qos)
        if new:
            self._router.notify_listener(lambda listener: listener.on_readings(new))
