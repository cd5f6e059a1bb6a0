"""The episode form's refusals, next to the field, in words a parent reads at 3 a.m."""

from __future__ import annotations

from hub.messages.formatting import Unit, limit_text

# By the error's code (hub/episodes/model.py, hub/api/episodes.py): what the form shows next to
# the field, in words a parent logging at 3 a.m. reads without knowing the API's names.
_EPISODE_PROBLEMS: dict[str, str] = {
    "episode.naive_time": "Give the time with its time zone, like 2026-11-23T02:10:00Z.",
    "episode.future": "That time has not come yet: check the date and the time.",
    "episode.end_before_start": "The end must be after the start.",
    "episode.untimed_end": "An episode you did not time has no end.",
    "episode.end_twice": "Give the end time or how long it lasted, not both.",
    "episode.bad_duration": "How long it lasted must be more than 0 and at most a day.",
    "episode.missing_end": "A timed episode needs its end time or how long it lasted; untick "
    "“timed” if you do not know.",
    "episode.cluster_of_one": "A cluster has at least 2 jerks.",
}


def episode_problem(
    code: str,
    said: str,
    unit: Unit = "C",
    *,
    fever_range_c: tuple[float, float] | None = None,
    max_jerks: int | None = None,
) -> str:
    """The plain words for an episode the hub refused (`said`: the checker's own words,
    kept for a code not listed); a fever's range in the caregivers' unit."""
    if code == "episode.bad_fever" and fever_range_c is not None:
        low, high = (limit_text(value, unit) for value in fever_range_c)
        return f"A baby's temperature is between {low} and {high}: check the value."
    if code == "episode.bad_jerks" and max_jerks is not None:
        return f"The number of jerks must be from 1 to {max_jerks}."
    return _EPISODE_PROBLEMS.get(code, said)
