"""The words for a hub that cannot save (a full or read-only SD card): the push, its
repeat, the all-clear, the dashboard's banner and the answer to a refused change."""

from __future__ import annotations

from datetime import timedelta

from hub.messages.formatting import span_text
from hub.messages.push import Message

_WHY = {
    "full": "its storage (the SD card) is full",
    "read_only": "its storage (the SD card) has become read-only, often a sign of a worn card",
    "io": "its storage (the SD card) is failing to write",
}
_FIX = {
    "full": "Free some space on the hub: delete old backups or other large files you put "
    "there. It starts saving again by itself.",
    "read_only": "Restart the hub. If this comes back, copy your backup to a new SD card "
    "and replace the old one.",
    "io": "Restart the hub. If this comes back, copy your backup to a new SD card and "
    "replace the old one.",
}
SAVE_TAGS = ("floppy_disk", "warning")


def _why(problem: str) -> str:
    return _WHY.get(problem, _WHY["io"])


def cannot_save(problem: str) -> Message:
    """The first push: what happened, what still works, what to do. Urgent: until it is
    fixed, room alerts may not reach anyone."""
    return Message(
        "The hub cannot save",
        f"The nursery monitor hub cannot save because {_why(problem)}. Readings wait on "
        "the sensor until it can save again, but room alerts may not reach you meanwhile: "
        f"check on your baby in person. {_FIX.get(problem, _FIX['io'])}",
        "urgent",
        SAVE_TAGS,
    )


def still_cannot_save(problem: str, for_s: float) -> Message:
    """The repeat while it lasts."""
    return Message(
        "The hub still cannot save",
        f"For {span_text(for_s)} now the hub has not been able to save because "
        f"{_why(problem)}. Room alerts may not reach you: check on your baby in person. "
        f"{_FIX.get(problem, _FIX['io'])}",
        "urgent",
        SAVE_TAGS,
    )


def saving_again(lasted: timedelta) -> Message:
    """The all-clear once a write reached the disk again."""
    return Message(
        "The hub is saving again",
        f"The hub can save again after {span_text(lasted.total_seconds())}. The readings "
        "the sensor kept meanwhile are being stored now, and room alerts work as usual.",
        "default",
        ("white_check_mark",),
    )


def save_banner(problem: str) -> str:
    """One line at the top of every dashboard page while it lasts."""
    return (
        f"The hub cannot save: {_why(problem)}. You can look, but changes are not kept; "
        f"room alerts may not reach you. {_FIX.get(problem, _FIX['io'])}"
    )


def change_refused(problem: str) -> str:
    """The answer (503) to a change the hub cannot save."""
    return (
        f"Not saved: the hub cannot save right now because {_why(problem)}. "
        "Try again once it is fixed."
    )


def status_line(problem: str, when: str) -> str:
    """`nursery status`: one line; `when` says since when (`5 min ago`)."""
    return (
        f"CANNOT SAVE since {when}: {_why(problem)}; readings wait on the sensors. "
        f"{_FIX.get(problem, _FIX['io'])}"
    )
