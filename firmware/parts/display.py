"""The indicators part: show on the LEDs and the buzzer how the room and the link are doing."""

from __future__ import annotations

import logging
import time

from firmware.indicators import Indicators, RoomSignals, hub_says_cold, room_signals
from firmware.parts.inbox import Inbox
from firmware.parts.link import HubLink
from firmware.parts.sampling import Sampler
from firmware.publisher import Publisher

log = logging.getLogger("nursery.firmware")


class Display:
    """Works out the room's signals on every turn and shows them on what is fitted; logs
    when the hub stops or starts answering and when the buzzer starts warning."""

    def __init__(
        self,
        indicators: Indicators | None,
        buzzer_every_s: float,
        sampler: Sampler,
        link: HubLink,
        publisher: Publisher,
        inbox: Inbox,
    ) -> None:
        self._indicators = indicators
        self._buzzer_every_s = buzzer_every_s
        self._sampler = sampler
        self._link = link
        self._publisher = publisher
        self._inbox = inbox
        self._reachable: bool | None = None
        self._hub_silent = False  # "not answering" was logged
        self._warned = False

    def signals(self) -> RoomSignals:
        now = time.monotonic()
        return room_signals(
            sensor_fault=self._sampler.faulty,
            hub_reachable=self._link.reachable(now),
            hub_cold=hub_says_cold(self._inbox.alert),
            local_cold=self._sampler.judge.cold,
        )

    def show(self) -> None:
        signals = self.signals()
        if signals.hub_reachable != self._reachable:
            # A lost broker is logged by the publisher; a silent hub behind a live one here.
            if not signals.hub_reachable and self._publisher.is_connected:
                self._hub_silent = True
                log.warning(
                    "the hub has not answered for %.0f s; the Pi judges the room itself",
                    self._link.contact.waiting_s(time.monotonic()),
                )
            elif signals.hub_reachable and self._hub_silent:
                self._hub_silent = False
                log.info("the hub answers again")
            self._reachable = signals.hub_reachable
        indicators = self._indicators
        if signals.warn != self._warned:
            self._warned = signals.warn
            if signals.warn and indicators is not None and indicators.warning is not None:
                judge = self._sampler.judge
                median = judge.median_c
                log.warning(
                    "the room is cold (%s, below %g °C) and the hub cannot be reached: "
                    "the buzzer warns every %g s",
                    "unknown" if median is None else f"{median:.1f} °C",
                    judge.threshold_c,
                    self._buzzer_every_s,
                )
        if indicators is not None:
            indicators.signal(signals)
