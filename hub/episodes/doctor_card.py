"""The doctor card: how urgently the parent should get help, graded from the last week of
the episode log (pure: fed the episodes, the time and a policy), and the emergency sentence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from hub.episodes.model import CLOCK_SLACK, DIARY_NOTE, SIGNS, Episode, Sign, episode_signs

# Three levels, from the reference guidance (immediate medical attention for frequent or
# prolonged episodes, or with fever or poor feeding; whole-body jerks may be seizures):
# emergency for a recent cluster of jerks or a baby who was floppy or not alert and
# responsive, call_now for the other signs and for frequent episodes, next_visit for
# episodes rising week over week below "frequent". The words stay next to the episode texts
# (hub/episodes/model.py); they never diagnose and never link the room's temperature to an
# episode.
Urgency = Literal["emergency", "call_now", "next_visit"]
URGENCIES: Final[tuple[Urgency, ...]] = get_args(Urgency)  # most urgent first

# The card looks at this much history; the week-over-week comparison uses two of these.
CARD_LOOKBACK: Final = timedelta(days=7)
# An emergency sign makes the card an emergency while it is this recent; after that the
# doctor should still hear about it (call_now), but "call the emergency number now" about
# an episode days ago would teach a tired parent to skip the card.
EMERGENCY_RECENT: Final = timedelta(hours=24)
EMERGENCY_SIGNS: Final[frozenset[Sign]] = frozenset({"not_alert", "floppy", "cluster"})


@dataclass(frozen=True, slots=True)
class CardPolicy:
    frequent_count: int = 3
    frequent_window_s: float = 86400.0
    emergency_number: str = "112"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # a Sign, "frequent" or "rising"
    text: str
    episode_ids: tuple[int, ...] = ()
    urgency: Urgency = "call_now"


# --- the words ------------------------------------------------------------------------


def emergency_text(number: str) -> str:
    """The one emergency sentence: the card, the episode page's footer and the report."""
    return (
        f"Call {number} now if your baby is floppy, does not respond to you, or has spasms "
        "that come in clusters one after another."
    )


_TITLES: Final[dict[Urgency, str]] = {
    "emergency": "",  # the emergency sentence itself
    "call_now": "Call your pediatrician now",
    "next_visit": "Mention it at the next visit",
}


def _advice(urgency: Urgency, number: str) -> str:
    if urgency == "emergency":
        return (
            "What you logged in the last day is below. Once your baby has been seen to, tell "
            "your pediatrician about it too; the report on this page can help."
        )
    if urgency == "call_now":
        return (
            "What you logged should be seen by a doctor soon. Call the practice now and tell "
            "them what you saw; the report on this page can help. If you cannot reach them, "
            f"call {number}."
        )
    return (
        "Episodes are coming more often than the week before. Mention it at your baby's next "
        "check-up, or call the practice sooner if you are worried."
    )


_SIGN_TEXT: Final[dict[Sign, tuple[str, str]]] = {
    # (one episode, several episodes)
    "long": (
        "An episode lasted longer than a minute.",
        "{n} episodes lasted longer than a minute.",
    ),
    "whole_body": ("An episode involved the whole body.", "{n} episodes involved the whole body."),
    "not_alert": (
        "Your baby was not alert and responsive during an episode.",
        "Your baby was not alert and responsive during {n} episodes.",
    ),
    "floppy": (
        "Your baby was floppy during an episode.",
        "Your baby was floppy during {n} episodes.",
    ),
    "fever": ("An episode came with a fever.", "{n} episodes came with a fever."),
    "vomiting": ("An episode came with vomiting.", "{n} episodes came with vomiting."),
    "poor_feeding": (
        "An episode came with poor feeding.",
        "{n} episodes came with poor feeding.",
    ),
    "cluster": (
        "An episode came as a cluster of jerks.",
        "{n} episodes came as clusters of jerks.",
    ),
}


def _count_text(sign: Sign, n: int) -> str:
    one, many = _SIGN_TEXT[sign]
    return one if n == 1 else many.format(n=n)


# --- the card ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorCard:
    """The card, shown when `urgency` is set; `reasons` say why, most urgent first."""

    urgency: Urgency | None
    reasons: tuple[Reason, ...]
    emergency_number: str
    note: str = DIARY_NOTE

    @property
    def show(self) -> bool:
        return self.urgency is not None

    @property
    def emergency(self) -> str:
        return emergency_text(self.emergency_number)

    @property
    def title(self) -> str:
        if self.urgency is None:
            return ""
        return _TITLES[self.urgency] or self.emergency

    @property
    def advice(self) -> str:
        return "" if self.urgency is None else _advice(self.urgency, self.emergency_number)


def doctor_card(episodes: Iterable[Episode], now: datetime, policy: CardPolicy) -> DoctorCard:
    """How urgently to get help, from the last seven days of the log.

    emergency: a cluster of jerks, floppy, or not alert and responsive, in an episode of the last
    24 hours. call_now: any other sign in the week (or an emergency sign older than a day),
    or `frequent_count` episodes within `frequent_window_s`. next_visit: more episodes in
    the last seven days than in the seven before (at least one then, and `frequent_count`
    now), without any of the above.
    """
    live = [e for e in episodes if e.deleted_at is None and e.started_at <= now + CLOCK_SLACK]
    recent = sorted(
        (e for e in live if e.started_at > now - CARD_LOOKBACK), key=lambda e: e.started_at
    )
    reasons = [*_sign_reasons(recent, now)]
    busiest = _busiest_window(recent, timedelta(seconds=policy.frequent_window_s))
    if len(busiest) >= policy.frequent_count:
        reasons.append(
            Reason(
                "frequent",
                f"{len(busiest)} episodes within {_span_words(policy.frequent_window_s)}.",
                tuple(e.id for e in busiest),
            )
        )
    before = [e for e in live if now - 2 * CARD_LOOKBACK < e.started_at <= now - CARD_LOOKBACK]
    # A log that holds nothing from the week before has nothing to compare with yet.
    if before and len(recent) >= policy.frequent_count and len(recent) > len(before):
        reasons.append(
            Reason(
                "rising",
                f"{len(recent)} episodes in the last 7 days, up from {len(before)} in the "
                "7 days before.",
                tuple(e.id for e in recent),
                urgency="next_visit",
            )
        )
    reasons.sort(key=lambda r: URGENCIES.index(r.urgency))  # stable: signs keep their order
    return DoctorCard(
        urgency=reasons[0].urgency if reasons else None,
        reasons=tuple(reasons),
        emergency_number=policy.emergency_number,
    )


def _sign_reasons(recent: Sequence[Episode], now: datetime) -> list[Reason]:
    """One reason per sign seen; an emergency sign in the last day is its own, urgent one."""
    found: dict[tuple[Sign, Urgency], list[int]] = {}
    for episode in recent:
        for sign in episode_signs(episode, now):
            fresh = episode.running or episode.started_at > now - EMERGENCY_RECENT
            urgency: Urgency = "emergency" if sign in EMERGENCY_SIGNS and fresh else "call_now"
            found.setdefault((sign, urgency), []).append(episode.id)
    return [
        Reason(sign, _count_text(sign, len(ids)), tuple(ids), urgency)
        for urgency in URGENCIES
        for sign in SIGNS
        if (ids := found.get((sign, urgency)))
    ]


def _busiest_window(ordered: Sequence[Episode], window: timedelta) -> list[Episode]:
    """The most episodes starting within any one `window` (a sliding window)."""
    best: list[Episode] = []
    lo = 0
    for hi, episode in enumerate(ordered):
        while episode.started_at - ordered[lo].started_at >= window:
            lo += 1
        if hi - lo + 1 > len(best):
            best = list(ordered[lo : hi + 1])
    return best


def _span_words(seconds: float) -> str:
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return "24 hours" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} hours"
    return f"{round(seconds / 60)} minutes"
