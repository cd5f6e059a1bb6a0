"""The words of `nursery export` a parent reads: the warning on a file with the episode log."""

from __future__ import annotations

HEALTH_WARNING = (
    "This file holds the episode log, which is health data. Only you can read it on this "
    "computer; keep copies private, and delete those you no longer need."
)
