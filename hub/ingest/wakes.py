"""The hub's paho client: the acks and publishes of one writer pass wake paho's thread once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from paho.mqtt.client import MQTTMessageInfo
from paho.mqtt.enums import MQTTErrorCode

from mqttlink.client import QuietClient

# What paho writes to its socket pair to wake its network thread.
WAKE_BYTE = b"0"


class OneWakeClient(QuietClient):
    """paho's client, where `one_wake()` lets a thread queue several packets and wake the
    network thread once for all of them, not once each (docs/design-notes.md says why)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._holding = threading.local()

    @contextlib.contextmanager
    def one_wake(self) -> Iterator[None]:
        """Within: this thread's packets are queued without waking the network thread;
        it is woken once at the end if any were. Keep it short: the packets wait for it."""
        if getattr(self._holding, "on", False):
            yield  # nested: the outer one wakes
            return
        self._holding.on, self._holding.owed = True, False
        try:
            yield
        finally:
            self._holding.on = False
            if self._holding.owed:
                self._wake()

    def _wake(self) -> None:
        sock = self._sockpairW
        if sock is not None:
            # Closed by a disconnect meanwhile: the reconnection sends what is queued.
            with contextlib.suppress(OSError):
                sock.send(WAKE_BYTE)

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        held = getattr(self._holding, "on", False)
        if not held or self._thread is None or self._on_socket_register_write is not None:
            return super()._packet_queue(command, packet, mid, qos, info)
        # paho's own _packet_queue for a client run by loop_start(), but for the wake.
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        self._holding.owed = True
        return MQTTErrorCode.MQTT_ERR_SUCCESS
