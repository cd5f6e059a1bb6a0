"""The episode log as the API and the Pi's button use it: the pure rules of hub/episodes/model.py
around the episode tables, with the room snapshot read from the hub's store.

Every write validates inside its own write transaction, so two phones (or a phone and the
button) cannot log overlapping episodes in one room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo

from contract.episode_events import EpisodeEventMessage
from contract.errors import NurseryError
from hub.config import HubConfig
from hub.episodes.doctor_card import CardPolicy, DoctorCard, doctor_card
from hub.episodes.model import (
    SNAPSHOT_WINDOW,
    Details,
    Episode,
    EpisodeInvalid,
    FieldError,
    NewEpisode,
    Patterns,
    Point,
    Snapshot,
    Timing,
    check_details,
    check_timing,
    patterns,
    room_snapshot,
)
from hub.episodes.storage import EpisodeStore, EventRecord, NotFound
from hub.monitor.comfort import ComfortBand
from hub.monitor.conditions import Condition
from hub.store.database import Store

__all__ = ["AlreadyRunning", "EpisodeLog", "NotFound", "NotRunning"]

# Snapshot reads: a raw hour of readings at any sensible interval fits below this.
_MAX_POINTS = 100_000


class AlreadyRunning(NurseryError):
    """The room already has a running episode; stop it first."""

    def __init__(self, episode: Episode) -> None:
        super().__init__(f"an episode is already running in {episode.room} (#{episode.id})")
        self.episode = episode


class NotRunning(NurseryError):
    """Stop was asked of an episode that is not running."""


class EpisodeLog:
    """One caller's view of the log: built per request (or by the ingest thread) around
    its own EpisodeStore connection."""

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
        series = self._store.readings(room, onset - SNAPSHOT_WINDOW, onset, _MAX_POINTS)
        points = [Point(p.ts, p.temperature_c, p.humidity_pct) for p in series.points]
        cold_open = any(
            incident.room == room
            and incident.condition is Condition.COLD
            and incident.opened_at <= onset
            and (incident.resolved_at is None or incident.resolved_at > onset)
            for incident in self._store.recent_incidents(onset, limit=_MAX_POINTS)
        )
        rules = self._settings.rules
        return room_snapshot(
            onset,
            points,
            cold_below_c=rules.effective("cold_below_c"),
            stale_after_s=rules.stale_after_s,
            cold_alert_open=cold_open,
        )

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
        """Apply a button event once. `start` begins a running episode, `stop` ends the
        room's running one, `now` logs an untimed one. An event that cannot apply (stop
        with nothing running, start while one runs, an overlap) is recorded with its
        outcome and changes nothing, so the firmware still gets its receipt."""
        # Nothing happened after the hub heard of it: a Pi clock running ahead is capped.
        ts = min(event.ts, received_at)
        room = event.room
        snapshot = self.snapshot(room, ts) if event.action != "stop" else None

        def apply(tx: EpisodeStore) -> tuple[str, int | None]:
            others = tx.neighbours_in_tx(room)
            running = next((e for e in others if e.running), None)
            if event.action == "stop":
                if running is None:
                    return "none_running", None
                if ts <= running.started_at:
                    return "stop_before_start", running.id
                try:
                    check_timing(
                        replace(running.timing, ended_at=ts), self.now, others, self_id=running.id
                    )
                except EpisodeInvalid:
                    return "overlap", running.id
                return "stopped", tx.end_in_tx(running.id, ts, self.now).id
            if event.action == "start" and running is not None:
                return "already_running", running.id
            new = NewEpisode(Timing(room, ts, None, timed=event.action == "start"), source="button")
            try:
                timing = check_timing(new.timing, self.now, others)
            except EpisodeInvalid:
                return "overlap", None
            episode = tx.insert_in_tx(new, timing, snapshot, self.now)
            return ("started" if event.action == "start" else "logged"), episode.id

        return self.episodes.record_event(event.event_id, room, event.action, received_at, apply)

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
