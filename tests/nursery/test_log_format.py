"""Logs under systemd: journald stamps each line itself and files it by the <N> prefix,
so `journalctl -p warning -u nursery-hub` shows the warnings and errors only."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from nursery.log_format import JournalFormatter
from tests.support import free_port
from tests.support.processes import NurseryProcess
from tests.support.wait import wait_until

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def firmware_log(tmp_path: Path, journal_stream: str | None) -> list[str]:
    """The lines `nursery firmware` writes to its output until it warns that the broker
    is unreachable; JOURNAL_STREAM as systemd sets it, naming that output's device:inode."""
    log = tmp_path / "firmware.log"
    log.touch()
    status = log.stat()
    env = {
        "NURSERY_FIRMWARE__SENSOR": "simulated",
        "NURSERY_FIRMWARE__OUTBOX": str(tmp_path / "outbox.db"),
        "NURSERY_FIRMWARE__LED_PIN": "off",
        "NURSERY_FIRMWARE__BUTTON_PIN": "off",
        "NURSERY_MQTT__HOST": "127.0.0.1",
        "NURSERY_MQTT__PORT": str(free_port()),
    }
    if journal_stream is not None:
        env["JOURNAL_STREAM"] = journal_stream.format(dev=status.st_dev, ino=status.st_ino)
    firmware = NurseryProcess(tmp_path, "firmware", env)
    try:
        wait_until(lambda: "cannot reach MQTT broker" in firmware.output(), what="the warning")
    finally:
        output = firmware.finish()
    return output.splitlines()


@pytest.mark.slow
def test_under_systemd_every_line_has_its_priority_and_no_timestamp(tmp_path: Path) -> None:
    lines = firmware_log(tmp_path, "{dev}:{ino}")
    assert lines and all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert not any(TIMESTAMP.search(line) for line in lines), lines
    warning = next(line for line in lines if "cannot reach MQTT broker" in line)
    assert warning.startswith("<4>WARNING nursery.firmware: cannot reach")
    assert any(line.startswith("<6>INFO nursery.firmware: firmware starting") for line in lines)


@pytest.mark.slow
def test_elsewhere_lines_keep_their_timestamp(tmp_path: Path) -> None:
    """A process started from the service with its output sent elsewhere inherits
    JOURNAL_STREAM: only the journal's own stream gets the journal's format."""
    lines = firmware_log(tmp_path, "1:{ino}0")
    assert lines and all(TIMESTAMP.match(line) for line in lines), lines
    assert not any(line.startswith("<") for line in lines)


def test_a_traceback_is_an_error_on_every_line() -> None:
    try:
        raise ValueError("the sensor said something odd")
    except ValueError:
        record = logging.LogRecord(
            "hub.ingest", logging.ERROR, __file__, 1, "could not store", None, sys.exc_info()
        )
    lines = JournalFormatter().format(record).splitlines()
    assert lines[0] == "<3>ERROR hub.ingest: could not store"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>ValueError: the sensor said something odd"
    debug = logging.LogRecord("hub", logging.DEBUG, __file__, 1, "a\nb", None, None)
    assert JournalFormatter().format(debug) == "<7>DEBUG hub: a\n<7>b"
