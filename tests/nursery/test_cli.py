"""The `nursery` command as a user types it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import nursery


@pytest.mark.parametrize("command", ["demo", "hub", "firmware", "notify-test", "adduser", "token"])
def test_every_command_has_help(tmp_path: Path, command: str) -> None:
    result = nursery(tmp_path, command, "--help")
    assert result.returncode == 0
    assert f"usage: nursery {command}" in result.stdout
    assert len(result.stdout) > 200


def test_check_prints_each_reading(tmp_path: Path) -> None:
    result = nursery(tmp_path, "firmware", "--check", NURSERY_FIRMWARE__SENSOR="simulated")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^reading (\d): (\S+) °C, (\S+) %RH$", result.stdout, re.MULTILINE)
    assert [int(n) for n, _, _ in lines] == [1, 2, 3, 4, 5]
    assert all(10 < float(t) < 30 for _, t, _ in lines)
    assert "5 of 5 readings good" in result.stdout


def test_check_off_a_pi_says_why_in_one_line(tmp_path: Path) -> None:
    result = nursery(tmp_path, "firmware", "--check")
    assert result.returncode == 1
    assert "no Raspberry Pi GPIO" in result.stderr
    assert "Traceback" not in result.stderr
