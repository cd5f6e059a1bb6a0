"""What a parent sends turned into an episode's timing and details: a new episode, or an
edit of only the fields sent (checked afterwards by hub/episodes/validation.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hub.episodes.model import Details, Episode, Timing
from hub.episodes.validation import EpisodeInvalid, FieldError

MAX_DURATION_S = 86400


def end_from(
    started_at: datetime, ended_at: datetime | None, duration_s: float | None
) -> tuple[datetime | None, str]:
    """The end from ended_at or duration_s, and the field name errors should use."""
    if ended_at is not None and duration_s is not None:
        raise EpisodeInvalid(
            [FieldError("duration_s", "episode.end_twice", "give ended_at or duration_s, not both")]
        )
    if duration_s is None:
        return ended_at, "ended_at"
    if not 0 < duration_s <= MAX_DURATION_S:
        raise EpisodeInvalid(
            [
                FieldError(
                    "duration_s",
                    "episode.bad_duration",
                    "duration_s must be more than 0 and at most 86400 (a day)",
                )
            ]
        )
    return started_at + timedelta(seconds=duration_s), "duration_s"


def new_timing(
    room: str,
    started_at: datetime,
    ended_at: datetime | None,
    duration_s: float | None,
    timed: bool,
) -> tuple[Timing, str]:
    """A past episode's timing, and the name its end was given by (for errors)."""
    end, end_field = end_from(started_at, ended_at, duration_s)
    if not timed and end is not None:
        raise EpisodeInvalid(
            [FieldError(end_field, "episode.untimed_end", "an untimed episode has no end")]
        )
    return Timing(room, started_at, end, timed), end_field


def edited_timing(old: Episode, sent: Mapping[str, Any]) -> tuple[Timing, str]:
    """The stored timing with the `sent` fields changed; moving the start keeps the
    duration, as a parent correcting the clock expects."""
    room = sent["room"] if sent.get("room") is not None else old.room
    started = sent["started_at"] if sent.get("started_at") else old.started_at
    timed = sent["timed"] if sent.get("timed") is not None else old.timing.timed
    if "ended_at" in sent or "duration_s" in sent:
        ended, end_field = end_from(started, sent.get("ended_at"), sent.get("duration_s"))
    elif "timed" in sent and not timed:
        ended, end_field = None, "ended_at"
    elif old.ended_at is not None and "started_at" in sent:
        ended, end_field = started + (old.ended_at - old.started_at), "started_at"
    else:
        ended, end_field = old.ended_at, "ended_at"
    timing = Timing(room, started, ended, timed)
    if timing.running and not old.running:
        raise EpisodeInvalid(
            [
                FieldError(
                    end_field,
                    "episode.missing_end",
                    "a timed episode needs ended_at or duration_s",
                )
            ]
        )
    return timing, end_field


def edited_details(old: Details, sent: Mapping[str, Any]) -> Details:
    """The stored details with the `sent` fields changed; a null yes/no means no."""

    def pick(name: str, default: object) -> Any:
        if name not in sent:
            return getattr(old, name)
        return default if sent[name] is None else sent[name]

    return Details(
        limbs=tuple(sent["limbs"] or ()) if "limbs" in sent else old.limbs,
        alert=sent.get("alert", old.alert),
        floppy=pick("floppy", False),
        state=sent.get("state", old.state),
        cluster=pick("cluster", False),
        jerks=sent.get("jerks", old.jerks),
        fever=pick("fever", False),
        fever_c=sent.get("fever_c", old.fever_c),
        vomiting=pick("vomiting", False),
        poor_feeding=pick("poor_feeding", False),
        notes=pick("notes", ""),
    )
