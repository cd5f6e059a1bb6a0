"""lgpio (under gpiozero and the DHT driver) makes its notification pipe in $LG_WD and opens
it again relative to the working directory: both must be one directory this user can write."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

LG_WD = "LG_WD"


def use_private_gpio_workdir() -> Path:
    """Point LG_WD and the working directory at one private directory, before anything
    imports the GPIO library, and return it. Without this, `nursery firmware --check` run
    from a directory its user may not write (`sudo -u nursery` from a home directory, or
    /) fails opening `.lgd-nfy-3` where the service, in its data directory, never would.

    An LG_WD already set and writable (a unit's Environment=) is kept; otherwise a fresh
    0700 directory, removed at exit. Settings must be read before: relative paths move.
    """
    named = os.environ.get(LG_WD, "")
    if named and Path(named).is_dir() and os.access(named, os.W_OK | os.X_OK):
        workdir = Path(named)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="nursery-gpio-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        os.environ[LG_WD] = str(workdir)
    os.chdir(workdir)
    return workdir
