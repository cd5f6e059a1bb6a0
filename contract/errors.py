"""The root of every error nursery-monitor raises; in the leaf package so all may share it."""

from __future__ import annotations


class NurseryError(Exception):
    """Any error of ours. Each subclass also inherits the builtin it stands for
    (ValueError, LookupError, RuntimeError), so `except ValueError` still catches it."""
