"""Telling a disk that takes no writes (full, read-only, failing) from any other failure,
with the errors SQLite and the OS really raise."""

from __future__ import annotations

import errno
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.store.database import Store, StoreError
from hub.store.disk_health import SaveHealth, SaveState, save_problem


def full_database_error(tmp_path: Path) -> sqlite3.Error:
    """SQLite's own error for a full disk: a page limit fails writes exactly as one does."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 4")
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    db.close()
    return caught.value


def read_only_database_error(tmp_path: Path) -> sqlite3.Error:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.execute("INSERT INTO t VALUES (1)")
    db.close()
    return caught.value


def test_the_disks_failures_are_told_apart_from_others(tmp_path: Path) -> None:
    assert save_problem(full_database_error(tmp_path)) == "full"
    assert save_problem(read_only_database_error(tmp_path)) == "read_only"
    assert save_problem(OSError(errno.ENOSPC, "No space left on device")) == "full"
    assert save_problem(OSError(errno.EROFS, "Read-only file system")) == "read_only"
    assert save_problem(OSError(errno.EIO, "Input/output error")) == "io"
    # Wrapped in the store's own error, as a route sees it.
    try:
        raise StoreError("cannot write") from full_database_error(tmp_path)
    except StoreError as wrapped:
        assert save_problem(wrapped) == "full"
    # Not the disk's fault: a busy file, a bug, a missing file.
    assert save_problem(sqlite3.OperationalError("database is locked")) is None
    assert save_problem(ValueError("bad")) is None
    assert save_problem(FileNotFoundError(errno.ENOENT, "gone")) is None


def test_save_health_says_each_change_once_and_clears_on_a_write(tmp_path: Path) -> None:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    health = SaveHealth(lambda: now, tmp_path / "hub.db")
    heard: list[SaveState] = []
    health.observe(heard.append)
    assert not health.check(sqlite3.OperationalError("database is locked"))
    assert not health.failing
    for _ in range(3):
        assert health.check(full_database_error(tmp_path))
    assert health.failing and health.state.problem == "full" and health.state.since == now
    health.saved()
    health.saved()
    assert [state.problem for state in heard] == ["full", None]


def test_the_probe_writes_to_the_real_store(tmp_path: Path) -> None:
    with Store(tmp_path / "hub.db") as store:
        store.probe_write()
        store.probe_write()
