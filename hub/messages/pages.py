"""The short pages a push's links open, and the refusal of a request under an unknown host name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.messages.formatting import room_words
from hub.messages.push import ACK_LABEL

# Who answered, as the dashboard shows it, when a push link was tapped on a phone that is
# not signed in to the dashboard.
PUSH_BY = "push button"
LINK_NOT_VALID = (
    "This link was not made by this hub, or it was changed after it was sent. "
    "Open the dashboard to answer the alert."
)
LINK_EXPIRED = "This link has expired. Open the dashboard to answer the alert."
LINK_OFF = (
    "Links in pushes are turned off on this hub (notify.public_url is not set). "
    "Open the dashboard to answer the alert."
)
LINK_UNKNOWN = "This alert is no longer on the hub. Open the dashboard to see the rooms."
LINK_BAD_TITLE = "This link does not work"
LINK_DASHBOARD = "Open the dashboard"


@dataclass(frozen=True, slots=True)
class LinkPage:
    """A short page for a parent who opened a push's link: a title, one or two sentences,
    and on the page before anything happens, the label of the button that acts."""

    title: str
    text: str
    button: str | None = None


def _at(ts: datetime, now: datetime) -> str:
    """A time on the hub's clock: `03:12` today, `Fri 4 Dec 23:50` another day."""
    local, today = ts.astimezone(), now.astimezone()
    if local.date() == today.date():
        return f"{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _answered(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> str:
    who = "from a push" if by in (None, PUSH_BY) else f"by {by}"
    if snoozed_until is not None and snoozed_until > now:
        return f"snoozed {who} until {_at(snoozed_until, now)}"
    if acked_at is not None:
        return f"acknowledged {who} at {_at(acked_at, now)}"
    return f"snoozed {who}"


def link_confirm(room: str, since: datetime, snooze_minutes: int | None, now: datetime) -> LinkPage:
    """Before acting: a link opened in a browser (a GET changes nothing)."""
    where = f"{room_words(room)}: alert since {_at(since, now)}."
    if snooze_minutes is None:
        text = f"{where} Tap to let the hub know you are on it; its reminders for this alert stop."
        return LinkPage(ACK_LABEL, text, ACK_LABEL)
    label = f"Snooze {snooze_minutes} min"
    text = (
        f"{where} Tap to quiet this alert for {snooze_minutes} minutes; if it has not "
        "cleared by then, you get a reminder."
    )
    return LinkPage(label, text, label)


def link_done(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> LinkPage:
    """The link acted."""
    return LinkPage("Done", f"Done: {_answered(by, acked_at, snoozed_until, now)}.")


def link_already_done(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> LinkPage:
    """The link was used before, or someone already answered: nothing changed now."""
    if acked_at is None and (snoozed_until is None or snoozed_until <= now):
        # Used, and the alert is back (worse, or its snooze ran out): say so.
        text = (
            "Already done: this link was used before. The alert is open again; answer it "
            "from its newest push or the dashboard."
        )
        return LinkPage("Already done", text)
    answer = _answered(by, acked_at, snoozed_until, now)
    return LinkPage("Already done", f"Already done: {answer}. Nothing more to do here.")


def link_already_resolved(room: str, resolved_at: datetime, now: datetime) -> LinkPage:
    """The alert ended before the link was opened."""
    text = f"Already resolved at {_at(resolved_at, now)}: the {room_words(room)} alert has ended."
    return LinkPage("Already resolved", text)


def host_refused(host: str) -> str:
    """A request under a name the hub is not served as (DNS rebinding, or a new name)."""
    return (
        f"This hub does not answer to the name {host!r}. If it is yours, add it to "
        "hub.allowed_hosts (NURSERY_HUB__ALLOWED_HOSTS)."
    )
