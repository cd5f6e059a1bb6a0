"""Whether an episode can be stored as given: each problem names its field, with a stable
code a client can switch on; nothing is changed when one is found."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from contract.errors import NurseryError
from contract.topics import ContractError, check_name
from hub.episodes.model import (
    CLOCK_SLACK,
    FEVER_RANGE_C,
    LIMBS,
    MAX_JERKS,
    MAX_NOTES,
    WAKE_STATES,
    Details,
    Episode,
    Timing,
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, with a stable code a client can switch on."""

    field: str
    code: str
    message: str


class EpisodeInvalid(NurseryError, ValueError):
    """An episode that cannot be stored as given; nothing was changed."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def _utc(value: datetime, name: str, errors: list[FieldError]) -> datetime | None:
    if value.tzinfo is None or value.utcoffset() is None:
        errors.append(
            FieldError(
                name,
                "episode.naive_time",
                f"{name} needs a time zone offset, like 2026-11-23T02:10:00Z",
            )
        )
        return None
    return value.astimezone(UTC)


def check_timing(
    timing: Timing,
    now: datetime,
    others: Iterable[Episode],
    *,
    self_id: int | None = None,
    end_field: str = "ended_at",
) -> Timing:
    """The timing in UTC, or EpisodeInvalid naming each bad field.

    No time in the future (beyond a minute of clock slack), an end after the start, an
    untimed episode without an end, and no overlap with another episode in the same room.
    `end_field` is the name the caller's input used for the end (`duration_s` when the
    parent gave a duration).
    """
    errors: list[FieldError] = []
    try:
        check_name("room", timing.room)
    except ContractError as exc:
        errors.append(FieldError("room", "episode.bad_room", str(exc)))
    start = _utc(timing.started_at, "started_at", errors)
    end = None if timing.ended_at is None else _utc(timing.ended_at, end_field, errors)
    if start is not None and start > now + CLOCK_SLACK:
        errors.append(FieldError("started_at", "episode.future", "started_at is in the future"))
    if end is not None:
        if not timing.timed:
            errors.append(
                FieldError(end_field, "episode.untimed_end", "an untimed episode has no end")
            )
        elif start is not None and end <= start:
            errors.append(
                FieldError(end_field, "episode.end_before_start", "the end must be after the start")
            )
        elif end > now + CLOCK_SLACK:
            errors.append(FieldError(end_field, "episode.future", "the end is in the future"))
    if errors or start is None:
        raise EpisodeInvalid(errors)
    checked = Timing(timing.room, start, end, timing.timed)
    clash = _overlapping(checked, now, others, self_id)
    if clash is not None:
        other_end = clash.timing.span_end(now)
        name = "started_at" if clash.started_at <= start < other_end else end_field
        raise EpisodeInvalid(
            [
                FieldError(
                    name,
                    "episode.overlap",
                    f"overlaps another episode in {timing.room} (#{clash.id}); change the "
                    "time or edit that one",
                )
            ]
        )
    return checked


def _overlapping(
    timing: Timing, now: datetime, others: Iterable[Episode], self_id: int | None
) -> Episode | None:
    start, end = timing.started_at, timing.span_end(now)
    for other in others:
        if other.id == self_id or other.deleted_at is not None or other.room != timing.room:
            continue
        if start < other.timing.span_end(now) and other.started_at < end:
            return other
    return None


def check_details(details: Details) -> Details:
    """Details with their notes trimmed, or EpisodeInvalid naming each bad field."""
    errors: list[FieldError] = []
    unknown = [limb for limb in details.limbs if limb not in LIMBS]
    if unknown:
        errors.append(
            FieldError("limbs", "episode.bad_limb", f"limbs must be from {', '.join(LIMBS)}")
        )
    if details.state is not None and details.state not in WAKE_STATES:
        errors.append(
            FieldError("state", "episode.bad_state", f"state must be {', '.join(WAKE_STATES)}")
        )
    if details.jerks is not None:
        if not 1 <= details.jerks <= MAX_JERKS:
            errors.append(
                FieldError("jerks", "episode.bad_jerks", f"jerks must be 1 to {MAX_JERKS}")
            )
        elif details.cluster and details.jerks < 2:
            errors.append(
                FieldError("jerks", "episode.cluster_of_one", "a cluster has at least 2 jerks")
            )
    if details.fever_c is not None:
        low, high = FEVER_RANGE_C
        if not math.isfinite(details.fever_c) or not low <= details.fever_c <= high:
            errors.append(
                FieldError(
                    "fever_c",
                    "episode.bad_fever",
                    f"a baby's temperature is between {low:g} and {high:g} °C; check the value",
                )
            )
    notes = details.notes.strip()
    if len(notes) > MAX_NOTES:
        errors.append(
            FieldError("notes", "episode.long_notes", f"notes are at most {MAX_NOTES} characters")
        )
    if errors:
        raise EpisodeInvalid(errors)
    limbs = tuple(limb for limb in LIMBS if limb in details.limbs)  # one order, no repeats
    return replace(details, limbs=limbs, cluster=details.is_cluster, notes=notes)
