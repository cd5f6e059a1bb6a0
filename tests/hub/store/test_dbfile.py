"""The hub's SQLite file has several connections in one process (store, accounts,
preferences, push outbox, episode log). Opening one must not take the locks of another:
closing any descriptor of a file drops every POSIX lock the process holds on it, and a
store without its lock has its WAL deleted under it by the next process that closes
(the test's own reads in tests/firmware/test_faults.py; a backup or `nursery adduser` for real).
"""

from __future__ import annotations

import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from contract.messages import ReadingMessage
from hub.episodes.storage import EpisodeStore
from hub.notify.outbox import PushOutbox
from hub.store.database import Received, Store
from hub.store.dbfile import connect_private, create_private

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
BOOT = str(uuid.uuid4())

# Another process opens the file, reads and closes: if it takes itself for the last
# user, it checkpoints and deletes the WAL on its way out.
_COUNT = (
    "import sqlite3, sys\n"
    "db = sqlite3.connect(sys.argv[1], timeout=5)\n"
    "print(db.execute('SELECT count(*) FROM readings').fetchone()[0])\n"
    "db.close()\n"
)


class _Closable(Protocol):
    def close(self) -> None: ...


def _received(seq: int) -> Received:
    ts = T0 + timedelta(seconds=10 * seq)
    return Received(ReadingMessage("nursery", BOOT, seq, ts, 19.0, 50.0), ts)


def _count_elsewhere(path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _COUNT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return int(done.stdout)


OPENERS: dict[str, Callable[[Path], _Closable]] = {
    "accounts and preferences": connect_private,
    "push outbox": PushOutbox,
    "episode log": EpisodeStore,
    "a second store": Store,
}


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_another_connection_leaves_the_store_its_wal(
    tmp_path: Path, opener: Callable[[Path], _Closable]
) -> None:
    path = tmp_path / "hub.db"
    with Store(path) as store:
        store.add_readings([_received(0)])
        other = opener(path)  # as the hub's lifespan does, after the store
        try:
            assert _count_elsewhere(path) == 1
            store.add_readings([_received(1)])
            store.sync()  # what ingest does before every receipt
            assert Path(f"{path}-wal").exists(), "the WAL was deleted under the store"
            assert _count_elsewhere(path) == 2, "a commit went to an unlinked WAL"
        finally:
            other.close()
    assert _count_elsewhere(path) == 2  # and after the hub stopped


def test_create_private_makes_a_new_file_0600_and_an_old_one_too(tmp_path: Path) -> None:
    new = tmp_path / "data" / "hub.db"
    create_private(new)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    old = tmp_path / "old.db"
    old.write_bytes(b"kept")
    old.chmod(0o644)
    create_private(old)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert old.read_bytes() == b"kept"
