"""The episode button: a short press starts or stops a timed episode, a long one logs "now"."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal, get_args

if TYPE_CHECKING:
    from gpiozero import Button

log = logging.getLogger("nursery.firmware")

EpisodeAction = Literal["start", "stop", "now"]
EPISODE_ACTIONS: Final[tuple[EpisodeAction, ...]] = get_args(EpisodeAction)

DEFAULT_HOLD_S: Final = 2.0
# gpiozero's bounce_time is honoured by lgpio and pigpio but ignored by the native and
# mock pin factories, so the button also ignores edges this soon after the last one.
DEFAULT_DEBOUNCE_S: Final = 0.05


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """One episode event from the button, named like the payload fields it becomes.

    `ts` and `monotonic` are both the time of the press (a long press's too, not of the
    moment it counted as held). `episode_id` ties a stop to its start: a start's and a
    now's is their own `event_id`, a stop's is its start's. `monotonic` stays on the Pi.
    """

    event_id: str
    action: EpisodeAction
    ts: datetime
    monotonic: float
    episode_id: str

    def __post_init__(self) -> None:
        if self.action not in EPISODE_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        if self.ts.tzinfo is None:
            raise ValueError("ts must carry a time zone")
        if self.action != "stop" and self.episode_id != self.event_id:
            raise ValueError("a start's or now's episode_id is its own event_id")


class EpisodeButton:
    """A short press starts a timed episode and the next short press stops it; a long press
    (the button's `hold_time`) is a one-tap "episode now" and is not also a short press.

    Events go to `on_event` from gpiozero's threads, one at a time and in order; it must
    not block (hand the event to a queue). A timed episode open when a long press comes
    stays open. The open episode is not kept across restarts.
    """

    def __init__(
        self,
        button: Button,
        on_event: Callable[[ButtonEvent], None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
    ) -> None:
        if not debounce_s >= 0:
            raise ValueError("debounce_s must not be negative")
        self._button = button
        self._on_event = on_event
        self._clock = clock
        self._wall_clock = wall_clock
        self._debounce_s = debounce_s
        self._lock = threading.Lock()
        self._down = False
        self._held = False
        self._press_mono = 0.0
        self._press_wall = datetime.min.replace(tzinfo=UTC)
        self._last_edge: float | None = None
        self._episode: ButtonEvent | None = None
        self._closed = False
        button.when_pressed = self._pressed
        button.when_released = self._released
        button.when_held = self._held_down

    @property
    def open_episode(self) -> ButtonEvent | None:
        """The start event of the timed episode under way, if any."""
        return self._episode

    def _pressed(self) -> None:
        now = self._clock()
        with self._lock:
            if self._closed or self._bouncing(now):
                return
            # A press while already down means a release was lost (or too short to be
            # real): the new press starts afresh.
            self._down = True
            self._held = False
            self._press_mono = now
            self._press_wall = self._wall_clock()
            self._last_edge = now

    def _released(self) -> None:
        now = self._clock()
        with self._lock:
            if self._closed or not self._down or self._bouncing(now):
                return
            self._down = False
            self._last_edge = now
            if self._held:
                return  # the long press has been reported when it was held
            if self._episode is None:
                event = self._event("start")
                self._episode = event
            else:
                event = self._event("stop", self._episode.event_id)
                self._episode = None
            self._emit(event)

    def _held_down(self) -> None:
        with self._lock:
            if self._closed or not self._down or self._held:
                return
            self._held = True
            self._emit(self._event("now"))

    def _bouncing(self, now: float) -> bool:
        return self._last_edge is not None and now - self._last_edge < self._debounce_s

    def _event(self, action: EpisodeAction, episode_id: str | None = None) -> ButtonEvent:
        event_id = str(uuid.uuid4())
        return ButtonEvent(
            event_id=event_id,
            action=action,
            ts=self._press_wall,
            monotonic=self._press_mono,
            episode_id=episode_id or event_id,
        )

    def _emit(self, event: ButtonEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            # Raised on gpiozero's event thread, it would end up nowhere useful.
            log.exception("episode button: the handler failed on %s", event.action)

    def close(self) -> None:
        """Stop reporting presses and release the pin; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._button.close()
