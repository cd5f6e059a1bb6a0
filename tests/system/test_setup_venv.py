"""scripts/setup-venv (what scripts/demo and scripts/test run first) skips pip when nothing
pip reads has changed, so a demo starts without a reinstall and setuptools' warning box."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "nursery-monitor-setup-test"
version = "{version}"

[project.optional-dependencies]
demo = []

[tool.setuptools]
packages = ["nursery"]
"""


def setup_venv(project: Path, extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project / "scripts/setup-venv"), extras],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_a_second_start_skips_the_install_until_pyproject_or_the_pins_change(
    tmp_path: Path,
) -> None:
    """A small project with the real script: the first run installs, the second says the
    venv is up to date without running pip, and a changed pyproject.toml or
    constraints.txt installs again."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/setup-venv", tmp_path / "scripts/setup-venv")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="1.0"))
    (tmp_path / "constraints.txt").write_text("")
    (tmp_path / "nursery").mkdir()
    (tmp_path / "nursery/__init__.py").write_text("")

    first = setup_venv(tmp_path, "demo")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "setup: installing" in first.stdout

    again = setup_venv(tmp_path, "demo")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date" in again.stdout
    assert "installing" not in again.stdout
    assert again.stderr == ""  # no pip, so no setuptools warning box

    (tmp_path / "constraints.txt").write_text("# a new pin\n")
    assert "setup: installing" in setup_venv(tmp_path, "demo").stdout
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="1.1"))
    assert "setup: installing" in setup_venv(tmp_path, "demo").stdout
    # Other extras are another install, with a stamp of their own.
    assert "setup: installing" in setup_venv(tmp_path, "").stdout
    assert "up to date" in setup_venv(tmp_path, "demo").stdout
