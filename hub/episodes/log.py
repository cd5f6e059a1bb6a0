"""The episode log as the API and the Pi's button use it: the rules of hub/episodes/ around
the episode tables, with the room snapshot read from the hub's store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo

from contract.episode_events import EpisodeEventMessage
from contract.errors import NurseryError
from hub.comfort import ComfortBand
from hub.config import HubConfig
from hub.episodes.button import apply_button_event
from hub.episodes.doctor_card import CardPolicy, DoctorCard, doctor_card
from hub.episodes.model import Details, Episode, NewEpisode, Snapshot, Timing
from hub.episodes.patterns import Patterns, patterns
from hub.episodes.snapshot import read_snapshot
from hub.episodes.storage import EpisodeStore, EventRecord, NotFound
from hub.episodes.validation import EpisodeInvalid, FieldError, check_details, check_timing
from hub.store.database import Store

__all__ = ["AlreadyRunning", "EpisodeLog", "NotFound", "NotRunning"]


class AlreadyRunning(NurseryError):
    """The room already has a running episode; stop it first."""

    def __init__(self, episode: Episode) -> None:
        super().__init__(f"an episode is already running in {episode.room} (#{episode.id})")
        self.episode = episode


class NotRunning(NurseryError):
    """Stop was asked of an episode that is not running."""


class EpisodeLog:
    """One caller's view of the log: built per request (or by the ingest thread) around
    its own EpisodeStore connection.

    Every write validates inside its own write transaction, so two phones (or a phone and
    the button) cannot log overlapping episodes in one room.
    """

    def __init__(
        self, settings: HubConfig, store: Store, episodes: EpisodeStore, now: datetime
    ) -> None:
        self._settings = settings
        self._store = store
        self.episodes = episodes
        self.now = now

    # --- the room around the onset ------------------------------------------------

    def snapshot(self, room: str, onset: datetime) -> Snapshot:
        """Readings and cold alerts of the hour before `onset`, from the hub's store."""
        return read_snapshot(self._settings, self._store, room, onset)

    def _known_room(self, room: str) -> None:
        if self._store.room(room) is None:
            known = ", ".join(r.name for r in self._store.rooms()) or "none yet"
            raise EpisodeInvalid(
                [
                    FieldError(
                        "room",
                        "episode.unknown_room",
                        f"the hub has no room named {room!r} (it knows: {known})",
                    )
                ]
            )

    # --- writes --------------------------------------------------------------------

    def create(
        self, new: NewEpisode, *, by: int | None = None, end_field: str = "ended_at"
    ) -> Episode:
        details = check_details(new.details)
        if new.timing.running:
            raise EpisodeInvalid(
                [
                    FieldError(
                        end_field,
                        "episode.missing_end",
                        "a timed past episode needs ended_at or duration_s; untick timed "
                        "if you do not know how long it lasted, or use start",
                    )
                ]
            )
        timing = check_timing(new.timing, self.now, [], end_field=end_field)
        if new.source == "app":
            self._known_room(timing.room)
        snapshot = self.snapshot(timing.room, timing.started_at)
        return self.episodes.add(
            replace(new, timing=timing, details=details),
            snapshot,
            lambda others: check_timing(timing, self.now, others, end_field=end_field),
            self.now,
            by,
        )

    def start(self, room: str, *, by: int | None = None) -> Episode:
        """A running episode from now: the big "Episode now" button."""
        timing = check_timing(Timing(room, self.now), self.now, [])
        self._known_room(room)
        running = self.episodes.running(room)
        if running:
            raise AlreadyRunning(running[0])
        snapshot = self.snapshot(room, self.now)

        def check(others: Sequence[Episode]) -> Timing:
            for other in others:
                if other.running:
                    raise AlreadyRunning(other)
            return check_timing(timing, self.now, others)

        return self.episodes.add(NewEpisode(timing), snapshot, check, self.now, by)

    def stop(self, episode_id: int, *, by: int | None = None) -> Episode:
        episode = self.episodes.get(episode_id)
        if episode.deleted_at is not None:
            raise NotFound(f"episode #{episode_id} is deleted")
        if not episode.running:
            raise NotRunning(f"episode #{episode_id} is not running")
        end = max(self.now, episode.started_at + timedelta(seconds=1))
        return self.update(episode_id, replace(episode.timing, ended_at=end), None, by=by)

    def update(
        self,
        episode_id: int,
        timing: Timing,
        details: Details | None,
        *,
        by: int | None = None,
        end_field: str = "ended_at",
    ) -> Episode:
        """Replace the timing and (when given) the details; the snapshot is taken again when
        the room or the onset moved."""
        old = self.episodes.get(episode_id)
        if old.deleted_at is not None:
            raise NotFound(f"episode #{episode_id} is deleted; restore it first")
        new_details = check_details(details if details is not None else old.details)
        if timing.room != old.room and old.source == "app":
            self._known_room(timing.room)
        checked = check_timing(timing, self.now, [], self_id=episode_id, end_field=end_field)
        snapshot = old.snapshot
        if (checked.room, checked.started_at) != (old.room, old.started_at) or snapshot is None:
            snapshot = self.snapshot(checked.room, checked.started_at)
        return self.episodes.replace(
            episode_id,
            checked,
            new_details,
            snapshot,
            lambda others: check_timing(
                checked, self.now, others, self_id=episode_id, end_field=end_field
            ),
            self.now,
            by,
        )

    def delete(self, episode_id: int) -> Episode:
        return self.episodes.delete(episode_id, self.now)

    def restore(self, episode_id: int) -> Episode:
        episode = self.episodes.get(episode_id)
        return self.episodes.restore(
            episode_id,
            lambda others: check_timing(episode.timing, self.now, others, self_id=episode_id),
            self.now,
        )

    # --- the Pi's button -------------------------------------------------------------

    def button(self, event: EpisodeEventMessage, received_at: datetime) -> EventRecord:
        """Apply a button event once (hub/episodes/button.py), with its room snapshot."""
        # Nothing happened after the hub heard of it: a Pi clock running ahead is capped.
        ts = min(event.ts, received_at)
        snapshot = self.snapshot(event.room, ts) if event.action != "stop" else None
        return apply_button_event(self.episodes, event, ts, received_at, snapshot, self.now)

    # --- reads -------------------------------------------------------------------------

    def policy(self) -> CardPolicy:
        settings = self._settings.episodes
        return CardPolicy(
            frequent_count=settings.frequent_count,
            frequent_window_s=settings.frequent_window_s,
            emergency_number=settings.emergency_number,
        )

    def card(self) -> DoctorCard:
        """The doctor card over the last two weeks (the week-over-week comparison)."""
        recent = self.episodes.between(self.now - timedelta(days=14), self.now)
        return doctor_card(recent, self.now, self.policy())

    def started_on(
        self, first_day: date, last_day: date, zone: tzinfo, room: str | None = None
    ) -> list[Episode]:
        """The episodes that started on `first_day`…`last_day` in `zone`, oldest first."""
        since, until = day_bounds(first_day, last_day, zone)
        return [
            e
            for e in self.episodes.between(since, until, room)
            if first_day <= e.started_at.astimezone(zone).date() <= last_day
        ]

    def patterns(
        self, first_day: date, last_day: date, zone: tzinfo, room: str | None = None
    ) -> Patterns:
        since, until = day_bounds(first_day, last_day, zone)
        episodes = self.episodes.between(since, until, room)
        return patterns(
            episodes,
            first_day,
            last_day,
            zone,
            ComfortBand.from_rules(self._settings.rules),
            self.now,
        )


def day_bounds(first_day: date, last_day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants that start `first_day` and end `last_day` in `zone` (DST-safe: a
    local day may be 23 or 25 hours long)."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start, end - timedelta(microseconds=1)
