"""The firmware's MQTT side: readings, faults, health, button events and a retained status
out; the hub's receipts and alert state back in (docs/firmware.md)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.alert_state import AlertStateMessage
from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.messages import FaultMessage, HealthMessage, ReadingMessage, StoredMessage
from contract.topics import (
    EPISODE_QOS,
    FAULT_QOS,
    READING_QOS,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    STATUS_QOS,
    ContractError,
    alert_topic,
    episode_stored_topic,
    episode_topic,
    fault_topic,
    health_topic,
    reading_topic,
    status_topic,
    stored_topic,
)
from firmware.config import FirmwareConfig
from mqttlink.client import QuietClient
from mqttlink.tls import refused_hint, secure_client, unreachable_hint

log = logging.getLogger("nursery.firmware")

# Messages paho may hold in memory (in flight or waiting); beyond it a publish is refused.
# The outbox keeps every reading, so this only bounds a re-send burst.
MAX_QUEUED_MESSAGES: Final = 1000
RECEIPT_QOS: Final = 1
HEALTH_QOS: Final = 1
RECONNECT_MIN_DELAY_S: Final = 1
RECONNECT_MAX_DELAY_S: Final = 30
CLOSE_TIMEOUT_S: Final = 5.0


def _skip_empty(handle: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """A receipt topic's retained message cleared by hand (empty payload) says nothing."""

    def handler(payload: bytes) -> None:
        if payload:
            handle(payload)

    return handler


class Publisher:
    """One paho client for one firmware boot; construct it to start connecting."""

    def __init__(
        self,
        settings: FirmwareConfig,
        boot_id: str,
        *,
        receipt_rooms: Iterable[str] = (),
        on_receipt: Callable[[StoredMessage], None] | None = None,
        on_episode_stored: Callable[[EpisodeStoredMessage], None] | None = None,
        on_alert: Callable[[AlertStateMessage | None], None] | None = None,
    ) -> None:
        mqtt_settings = settings.mqtt
        self.room = settings.firmware.room
        self.base_topic = mqtt_settings.base_topic
        self.broker = f"{mqtt_settings.host}:{mqtt_settings.port}"
        self.client_id = f"nursery-fw-{self.room}-{boot_id[:8]}"
        self._status_topic = status_topic(self.base_topic, self.room)
        # Receipts for every room the outbox holds readings or events of (the room may have
        # changed); the alert state of this room only. Each handler gets the payload.
        rooms = {self.room, *receipt_rooms}
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        if on_receipt is not None:
            receipt = _skip_empty(lambda payload: on_receipt(StoredMessage.decode(payload)))
            for room in rooms:
                self._handlers[stored_topic(self.base_topic, room)] = receipt
        if on_episode_stored is not None:
            stored = _skip_empty(
                lambda payload: on_episode_stored(EpisodeStoredMessage.decode(payload))
            )
            for room in rooms:
                self._handlers[episode_stored_topic(self.base_topic, room)] = stored
        if on_alert is not None:
            # An empty retained payload clears the state: nothing is known then.
            self._handlers[alert_topic(self.base_topic, self.room)] = lambda payload: on_alert(
                AlertStateMessage.decode(payload) if payload else None
            )
        self.connections = 0  # successful (re)connections; the runner watches it change
        self.hub_heard = 0  # live messages from the hub; the runner watches it change
        self._bad_topics_logged: set[str] = set()

        self._closing = False
        self._closed = False
        self._reported_down = False  # a connection problem is logged once, until it heals
        self._ever_connected = False
        self.failed_attempts = 0  # connection attempts that failed since the last success
        self._dropping = False  # queue-full drops are logged once per episode
        self._acked = threading.Condition()
        self._acked_mids: collections.deque[int] = collections.deque(maxlen=1024)

        client = QuietClient(  # paho's Client, its network thread woken by work only
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=True,
        )
        secure_client(client, mqtt_settings)  # login, and TLS with mqtt.tls
        client.will_set(self._status_topic, STATUS_OFFLINE, qos=STATUS_QOS, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client

        log.debug("connecting to MQTT broker %s as %s", self.broker, self.client_id)
        client.connect_async(mqtt_settings.host, mqtt_settings.port, mqtt_settings.keepalive_s)
        client.loop_start()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected()

    def publish_reading(self, message: ReadingMessage) -> bool:
        """Hand a reading to paho (sent now, or queued while offline); False if refused.

        Refused or lost, the reading is still in the outbox, which sends it again.
        """
        return self._publish(
            reading_topic(self.base_topic, message.room), message.encode(), READING_QOS
        )

    def publish_health(self, message: HealthMessage) -> bool:
        """Publish the firmware's counters, retained, so the hub sees the latest at once."""
        return self._publish(
            health_topic(self.base_topic, message.room), message.encode(), HEALTH_QOS, retain=True
        )

    def publish_episode(self, message: EpisodeEventMessage) -> bool:
        """Hand a button event to paho; the outbox keeps it until the hub's receipt."""
        return self._publish(
            episode_topic(self.base_topic, message.room), message.encode(), EPISODE_QOS
        )

    def publish_fault(self, message: FaultMessage) -> bool:
        """Hand a fault to paho, like a reading; False if dropped."""
        return self._publish(
            fault_topic(self.base_topic, message.room), message.encode(), FAULT_QOS
        )

    def _publish(self, topic: str, payload: bytes, qos: int, *, retain: bool = False) -> bool:
        if self._closed:
            raise RuntimeError("the publisher is closed")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        # NO_CONN means queued for the next connection (QoS 1), not lost.
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            if self._dropping:
                self._dropping = False
                log.info("MQTT queue has room again; publishing resumed")
            return True
        if not self._dropping:
            self._dropping = True
            log.warning(
                "MQTT memory queue refuses new messages: %s (at most %d wait for the broker); "
                "readings wait in the outbox, faults are dropped",
                mqtt.error_string(info.rc),
                MAX_QUEUED_MESSAGES,
            )
        return False

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Publish a retained `offline`, wait (bounded) for the broker to take it, disconnect.

        While disconnected there is nothing to wait for: the broker has already sent our
        last will, or never saw us.
        """
        if self._closed:
            return
        self._closing = True
        connected = self._client.is_connected()
        try:
            if connected:
                with self._acked:
                    self._acked_mids.clear()
                info = self._client.publish(
                    self._status_topic, STATUS_OFFLINE, qos=STATUS_QOS, retain=True
                )
                if not self._wait_acked(info.mid, timeout):
                    log.warning("broker did not confirm the offline status within %g s", timeout)
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            self._closed = True
        if connected:
            log.info("disconnected from MQTT broker %s", self.broker)
        else:
            log.info("stopped trying to reach MQTT broker %s", self.broker)

    def _wait_acked(self, mid: int, timeout: float) -> bool:
        # Not MQTTMessageInfo.wait_for_publish: it raises for messages queued while offline.
        deadline = time.monotonic() + timeout
        with self._acked:
            while mid not in self._acked_mids:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._acked.wait(remaining)
        return True

    # --- paho callbacks (on paho's network thread: never block here) ---------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.failed_attempts += 1
            if not self._reported_down:
                self._reported_down = True
                log.error(
                    "MQTT broker %s refused the connection: %s; %s",
                    self.broker,
                    reason_code,
                    refused_hint(reason_code),
                )
            return
        self._reported_down = False
        self.failed_attempts = 0
        verb = "reconnected to" if self._ever_connected else "connected to"
        self._ever_connected = True
        log.info("%s MQTT broker %s as %s", verb, self.broker, self.client_id)
        if not self._closing:
            client.publish(self._status_topic, STATUS_ONLINE, qos=STATUS_QOS, retain=True)
            if self._handlers:
                # A clean session forgets subscriptions: ask again on every connection.
                client.subscribe([(topic, RECEIPT_QOS) for topic in sorted(self._handlers)])
        self.connections += 1

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.failed_attempts += 1
        if not self._reported_down:
            self._reported_down = True
            log.warning(
                "cannot reach MQTT broker %s; retrying every %d-%d s in the background; %s",
                self.broker,
                RECONNECT_MIN_DELAY_S,
                RECONNECT_MAX_DELAY_S,
                unreachable_hint(),
            )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._closing or self._reported_down:
            return
        self._reported_down = True
        log.warning(
            "lost connection to MQTT broker %s (%s); reconnecting", self.broker, reason_code
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        handle = self._handlers.get(message.topic)
        if handle is None:
            return
        if not message.retain:
            self.hub_heard += 1  # said now, so the hub is there now
        try:
            handle(bytes(message.payload))
        except ContractError as exc:
            if message.topic not in self._bad_topics_logged:
                self._bad_topics_logged.add(message.topic)
                log.warning(
                    "ignoring a message on %s that breaks the contract: %s", message.topic, exc
                )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        with self._acked:
            self._acked_mids.append(mid)
            self._acked.notify_all()
