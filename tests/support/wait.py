"""Waiting on a condition with a timeout: the tests' only way to let time pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | Literal[False] | None],
    timeout: float = 15.0,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; fail with
    `what` on timeout. (`cond and value` predicates give back the value, typed as such.)"""
    deadline = time.monotonic() + timeout
    last = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
        last = predicate()
    assert last is not None and last is not False
    return last
