"""`nursery firmware --check` from a directory its user may not write, as with
`sudo -u nursery` from a home directory: lgpio's notification pipe still has a place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.env import settings_env

NOBODY = 65534

# What `import lgpio` does (lgpio 0.2, lgNotify.c and lgpio.py): the C side makes the pipe
# .lgd-nfy<N> in $LG_WD, else the working directory, and the Python side opens it by the
# bare name, relative to the working directory. Kept here as the hardware edge it is:
# lgpio has no wheel for this machine, and off a Pi nothing else imports it.
LGPIO_IMPORT = """
import os
workdir = os.environ.get("LG_WD") or os.getcwd()
os.mkfifo(os.path.join(workdir, ".lgd-nfy0"), 0o664)
os.close(os.open(".lgd-nfy0", os.O_RDONLY | os.O_NONBLOCK))
print("lgpio imported")
"""


def as_unprivileged_user(
    code: str, cwd: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python -c code` in `cwd` as a user who may not write there (nobody, through
    setpriv, when the tests run as root: root may write anywhere)."""
    drop: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux) to drop to nobody")
        drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*drop, sys.executable, "-c", code],
        cwd=cwd,
        env=settings_env(env, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_gpio_library_would_fail_in_a_directory_it_cannot_write() -> None:
    """The failure itself, so the next test shows the fix and not a lucky directory."""
    result = as_unprivileged_user(LGPIO_IMPORT, "/", {})
    assert result.returncode != 0
    assert "lgpio imported" not in result.stdout


def test_the_check_gives_the_gpio_library_a_private_directory() -> None:
    code = (
        "from firmware.gpio_workdir import use_private_gpio_workdir\n"
        "workdir = use_private_gpio_workdir()\n"
        "import os, stat\n"
        "print('private', oct(stat.S_IMODE(os.stat(workdir).st_mode)))\n" + LGPIO_IMPORT
    )
    result = as_unprivileged_user(code, "/", {})
    assert result.returncode == 0, result.stderr
    assert "private 0o700" in result.stdout
    assert "lgpio imported" in result.stdout


def test_an_lg_wd_of_the_users_own_is_kept() -> None:
    code = (
        "from firmware.gpio_workdir import use_private_gpio_workdir\n"
        "print(use_private_gpio_workdir())\n" + LGPIO_IMPORT
    )
    workdir = Path(tempfile.mkdtemp(prefix="lg-wd-"))  # in /tmp, which nobody may reach
    try:
        if os.geteuid() == 0:
            os.chown(workdir, NOBODY, NOBODY)
        result = as_unprivileged_user(code, "/", {"LG_WD": str(workdir)})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == str(workdir)
        assert (workdir / ".lgd-nfy0").exists()
    finally:
        shutil.rmtree(workdir)


def test_the_check_runs_from_a_directory_it_cannot_write() -> None:
    code = "import sys\nfrom nursery.cli import main\nsys.exit(main(['firmware', '--check']))"
    settings = {
        "NURSERY_FIRMWARE__SENSOR": "simulated",
        "NURSERY_FIRMWARE__LED_PIN": "off",
        "NURSERY_FIRMWARE__BUTTON_PIN": "off",
        "XDG_CONFIG_HOME": "/nonexistent",
    }
    result = as_unprivileged_user(code, "/", settings)
    assert result.returncode == 0, result.stderr
    assert "5 of 5 readings good" in result.stdout
