"""Golden traces: recorded nights (tests/data/replay/) and the alerts each must raise, written
down beside it; the replay, and so the live rules, must keep raising exactly those."""

from __future__ import annotations

import pytest

from hub.replay.report import alert_json
from tests.support.replay import REPLAY_DATA, listing, replay_file

TRACES = [
    "cold-night.csv",
    "heater-cycling.csv",
    "window-open.csv",
    "flaky-sensor.csv",
    "pi-clock-behind.jsonl",
]


@pytest.mark.parametrize("trace", TRACES)
def test_a_golden_trace_raises_exactly_the_alerts_written_beside_it(trace: str) -> None:
    path = REPLAY_DATA / trace
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    body = "".join(line for line in expected.splitlines(True) if not line.startswith("#"))
    got = listing([alert_json(a) for a in replay_file(path).alerts])
    assert got == body
