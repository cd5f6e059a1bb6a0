"""The "hub cannot save" alarm: pushed straight from memory (the push outbox is on the
same full or read-only disk), repeated while it lasts, resolved by a write that works."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from contract.hub_storage import HubStorageMessage
from contract.topics import hub_storage_topic
from hub import messages
from hub.config import HubConfig
from hub.messages.storage import cannot_save, saving_again, still_cannot_save
from hub.monitor.publishing import Publish
from hub.notify.push import DeliveryError, Push, PushSender
from hub.preferences import Household
from hub.store.disk_health import SaveHealth, SaveState

log = logging.getLogger("nursery.hub.monitor")

# While the disk fails, a tiny write tries it again this often at first, then less often
# (up to PROBE_MAX_S): space may come back while no reading arrives to find out.
PROBE_FIRST_S = 2.0
PROBE_MAX_S = 30.0
# A channel whose push failed is tried again this often while the message still holds.
RETRY_CHANNEL_S = 30.0


def all_channels(urls: Sequence[str], caregivers: Sequence[Sequence[str]]) -> list[str]:
    """Every channel of every caregiver, once each: this alarm is for the whole household."""
    return list(dict.fromkeys([*urls, *(url for group in caregivers for url in group)]))


class SaveAlarm:
    """Watches SaveHealth and tells every caregiver, through the sender itself (no outbox,
    no disk write), and Home Assistant through a retained MQTT topic. Repeats every
    `alerts.repeat_every_s` while the hub cannot save; probes the disk with `probe`."""

    def __init__(
        self,
        settings: HubConfig,
        health: SaveHealth,
        sender: PushSender,
        probe: Callable[[], None],
        clock: Callable[[], datetime],
        publish: Publish | None = None,
    ) -> None:
        self._health = health
        self._sender = sender
        self._probe = probe
        self._clock = clock
        self._publish = publish
        self._topic = hub_storage_topic(settings.mqtt.base_topic)
        self._repeat_s = settings.alerts.repeat_every_s
        self._urls = list(settings.notify.urls)
        self._caregivers = [list(group) for group in settings.notify.caregivers]
        self._configured = self._caregivers
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="save-alarm", daemon=True)
        self._raised: SaveState | None = None  # the failure the household was told of
        self._last_push: datetime | None = None
        self._pending: dict[str, messages.Message] = {}  # channel → what it still owes
        self._probe_every = PROBE_FIRST_S
        health.observe(lambda state: self._wake.set())

    def use_household(self, household: Household) -> None:
        """Caregivers' own channels, kept in memory: the database may be unreadable later."""
        groups = [list(group) for group in household.caregiver_channels]
        self._caregivers = groups or self._configured

    def start(self) -> None:
        self._publish_state(self._health.state)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                timeout = self.look()
            except Exception:  # the alarm must outlive any one failure
                log.exception("the save alarm failed; trying again")
                timeout = RETRY_CHANNEL_S
            self._wake.wait(timeout)
            self._wake.clear()

    def look(self) -> float | None:
        """One look (the thread's, or a test's): tell, repeat or clear, probe the disk;
        returns the seconds until the next look is due (None: when woken)."""
        state = self._health.state
        now = self._clock()
        if state.problem is not None:
            if self._raised is None:
                self._raised, self._last_push = state, now
                log.error("the hub cannot save (%s): %s", state.problem, state.detail)
                self._queue(cannot_save(state.problem))
                self._publish_state(state)
            elif (now - (self._last_push or now)).total_seconds() >= self._repeat_s:
                self._last_push = now
                lasted = (now - (state.since or now)).total_seconds()
                self._queue(still_cannot_save(state.problem, lasted))
            self._send_pending()
            self._try_disk()
            if self._health.failing:
                return self._probe_every
        if self._raised is not None:
            since = self._raised.since or now
            self._raised, self._last_push = None, None
            self._probe_every = PROBE_FIRST_S
            log.warning("the hub can save again")
            self._queue(saving_again(now - since))
            self._publish_state(self._health.state)
        self._send_pending()
        return RETRY_CHANNEL_S if self._pending else None

    def _try_disk(self) -> None:
        try:
            self._probe()
        except Exception as exc:
            if not self._health.check(exc):
                log.warning("the disk probe failed for another reason: %s", exc)
            self._probe_every = min(self._probe_every * 2, PROBE_MAX_S)
        else:
            self._health.saved()

    def _queue(self, message: messages.Message) -> None:
        """The newest message replaces any older one a channel still owes."""
        for url in all_channels(self._urls, self._caregivers):
            self._pending[url] = message
        if not self._pending:
            log.warning("no push channel is set: the save alarm shows on the dashboard only")

    def _send_pending(self) -> None:
        for url, message in list(self._pending.items()):
            try:
                self._sender.send(Push(0, url, message))
            except DeliveryError as exc:
                log.warning("save alarm push failed: %s", exc)
                continue
            if self._pending.get(url) is message:
                del self._pending[url]

    def _publish_state(self, state: SaveState) -> None:
        if self._publish is None:
            return
        message = (
            HubStorageMessage("cannot_save", state.problem, state.since)
            if state.problem is not None
            else HubStorageMessage("ok")
        )
        try:
            self._publish(self._topic, message.encode())
        except Exception:
            log.exception("could not publish the hub's storage state")
