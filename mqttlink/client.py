"""The paho client the hub and the firmware use: paho's own, with a network thread that
sleeps until there is something to do."""

from __future__ import annotations

import paho.mqtt.client as mqtt

# select()'s longest timeout: a keepalive of 0 (no pings at all) still wakes once a minute.
MAX_WAKE_S = 60.0


def wake_every_s(keepalive_s: int) -> float:
    """How long the network thread may sleep in select() with nothing happening: a quarter
    of the keepalive, 7.5 s at mqtt.keepalive_s's default of 30."""
    if keepalive_s <= 0:
        return MAX_WAKE_S
    return min(MAX_WAKE_S, keepalive_s / 4)


class QuietClient(mqtt.Client):
    """paho's Client; only the thread `loop_start()` starts wakes less often."""

    def _thread_main(self) -> None:
        # paho 2.x's loop_start() target, as paho writes it, with the timeout changed.
        try:
            self.loop_forever(timeout=wake_every_s(self.keepalive), retry_first_connection=True)
        finally:
            self._thread = None
