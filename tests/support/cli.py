"""The `nursery` command as a user types it, and the accounts it keeps."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.env import settings_env
from tests.support.paths import DATA

# The secrets of tests/data/accounts-before-token-expiry.sql, printed when it was made.
OLD_SAM_TOKEN = "nm_7HpyurCQR6Wf6dzGidiw-Zc5YVBTV38ettxCq9PqLN0"
OLD_ALEX_TOKEN = "nm_7nBvyoRahMQ16nKoHWk-gVtjtDFVPuP5_Hb-vD3seqU"
OLD_SAM_SESSION = "Qxz2fZeil2p0TRHEbeHFmSCHBxZSkbClJ72VTSANZz4"


def nursery(
    workdir: Path, *args: str, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`nursery ARGS` run in `workdir`, settings only from `env`; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "nursery", *args],
        env=settings_env(env),
        cwd=workdir,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def adduser(workdir: Path, name: str, password: str) -> subprocess.CompletedProcess[str]:
    """`nursery adduser NAME`, the password typed on stdin, into workdir/hub.db."""
    return nursery(
        workdir,
        "adduser",
        name,
        input=password + "\n",
        NURSERY_HUB__DB=str(workdir / "hub.db"),
    )


def old_database(path: Path) -> Path:
    """A hub database as main made it before tokens could expire (see the .sql file)."""
    db = sqlite3.connect(path)
    db.executescript((DATA / "accounts-before-token-expiry.sql").read_text())
    db.close()
    return path
