"""The Pi's episode button: each event applied once, with an outcome the firmware is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.episode_events import EpisodeEventMessage
from hub.episodes.model import NewEpisode, Snapshot, Timing
from hub.episodes.storage import EpisodeStore, EventRecord
from hub.episodes.validation import EpisodeInvalid, check_timing


def apply_button_event(
    episodes: EpisodeStore,
    event: EpisodeEventMessage,
    ts: datetime,
    received_at: datetime,
    snapshot: Snapshot | None,
    now: datetime,
) -> EventRecord:
    """Apply a button event (at `ts`, capped to when the hub heard it) once. `start` begins a
    running episode, `stop` ends the room's running one, `now` logs an untimed one. An
    event that cannot apply (stop with nothing running, start while one runs, an overlap)
    is recorded with its outcome and changes nothing, so the firmware still gets its
    receipt."""
    room = event.room

    def apply(tx: EpisodeStore) -> tuple[str, int | None]:
        others = tx.neighbours_in_tx(room)
        running = next((e for e in others if e.running), None)
        if event.action == "stop":
            if running is None:
                return "none_running", None
            if ts <= running.started_at:
                return "stop_before_start", running.id
            try:
                check_timing(replace(running.timing, ended_at=ts), now, others, self_id=running.id)
            except EpisodeInvalid:
                return "overlap", running.id
            return "stopped", tx.end_in_tx(running.id, ts, now).id
        if event.action == "start" and running is not None:
            return "already_running", running.id
        new = NewEpisode(Timing(room, ts, None, timed=event.action == "start"), source="button")
        try:
            timing = check_timing(new.timing, now, others)
        except EpisodeInvalid:
            return "overlap", None
        episode = tx.insert_in_tx(new, timing, snapshot, now)
        return ("started" if event.action == "start" else "logged"), episode.id

    return episodes.record_event(event.event_id, room, event.action, received_at, apply)
