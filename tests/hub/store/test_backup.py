"""Backups and restores of real SQLite files: one 0600 file with a manifest that matches,
encryption that a wrong passphrase or a changed byte cannot get past, rotation, and a restore
that refuses what it must and never loses the file it replaces."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.messages import ReadingMessage
from hub.store.backup import BackupError, backup_name, host_label, make_backup, rotate
from hub.store.database import Received, Store
from hub.store.migrations import SCHEMA_VERSION
from hub.store.restore import restore
from hub.store.sealed import CHUNK, SealError

PASSPHRASE = b"correct horse battery staple"
BOOT = "6f1c2f0e-4a55-4d0b-9a43-3c5d1b2e7f10"


def filled(db: Path, readings: int = 300) -> Path:
    """A hub database with a room, its readings and a secret; closed again."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Store(db) as store:
        moments = [start + timedelta(seconds=10 * seq) for seq in range(readings)]
        store.add_readings(
            [
                Received(ReadingMessage("nursery", BOOT, seq, at, 19.5, 50.0), at)
                for seq, at in enumerate(moments)
            ]
        )
        store.secret("session-key")
    return db


def rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a fixed order."""
    con = sqlite3.connect(db)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        query = 'SELECT * FROM "{}"'
        return {n: sorted(con.execute(query.format(n)).fetchall(), key=repr) for n in names}
    finally:
        con.close()


def test_a_backup_is_one_private_file_whose_manifest_matches_its_database(tmp_path: Path) -> None:
    db = filled(tmp_path / "hub.db")
    old = os.umask(0)
    try:
        result = make_backup(db, tmp_path / "backups")
    finally:
        os.umask(old)
    assert result.path.parent == tmp_path / "backups"
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in result.path.parent.iterdir()] == [result.path.name]  # no leftovers
    with tarfile.open(result.path) as tar:
        assert tar.getnames() == ["manifest.json", "hub.db"]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        (tmp_path / "copy.db").write_bytes(tar.extractfile("hub.db").read())  # type: ignore[union-attr]
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["tables"]["readings"] == 300
    assert manifest["tables"]["meta"] == len(rows(db)["meta"])
    assert (
        manifest["database_sha256"]
        == hashlib.sha256((tmp_path / "copy.db").read_bytes()).hexdigest()
    )
    assert rows(tmp_path / "copy.db") == rows(db)


@pytest.mark.slow
def test_an_encrypted_backup_restores_only_with_its_passphrase(tmp_path: Path) -> None:
    db = filled(tmp_path / "hub.db", readings=3000)  # several encrypted chunks
    result = make_backup(db, tmp_path / "out", passphrase=PASSPHRASE)
    assert result.path.name.endswith(".tar.enc")
    sealed = result.path.read_bytes()
    assert len(sealed) > 2 * CHUNK
    assert b"session-key" not in sealed and b"nursery" not in sealed
    target = tmp_path / "new" / "hub.db"
    with pytest.raises(BackupError, match="encrypted: give its --passphrase-file"):
        restore(result.path, target)
    with pytest.raises(SealError, match=r"^wrong passphrase"):
        restore(result.path, target, b"not the passphrase")
    changed = bytearray(sealed)
    changed[len(sealed) // 2] ^= 1
    (tmp_path / "changed.tar.enc").write_bytes(bytes(changed))
    with pytest.raises(SealError, match="damaged"):
        restore(tmp_path / "changed.tar.enc", target, PASSPHRASE)
    (tmp_path / "short.tar.enc").write_bytes(sealed[: 2 * CHUNK + 40])
    with pytest.raises(SealError, match="damaged or cut short"):
        restore(tmp_path / "short.tar.enc", target, PASSPHRASE)
    assert not target.exists()
    restore(result.path, target, PASSPHRASE)
    assert rows(target) == rows(db)


def test_a_changed_byte_in_a_plain_backup_is_refused_by_its_checksum(tmp_path: Path) -> None:
    db = filled(tmp_path / "hub.db")
    result = make_backup(db, tmp_path / "out")
    data = bytearray(result.path.read_bytes())
    data[-20_000] ^= 0xFF  # inside the database, past the manifest
    result.path.write_bytes(bytes(data))
    target = tmp_path / "hub2.db"
    with pytest.raises(BackupError, match="damaged: its database does not match"):
        restore(result.path, target)
    assert not target.exists()


def test_keep_removes_only_this_hubs_oldest_backups(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    host = host_label()
    day = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    ours = [backup_name(host, day + timedelta(days=n), sealed=n % 2 == 1) for n in range(4)]
    other = backup_name("other-hub", day, sealed=False)
    for name in [*ours, other, "notes.txt"]:
        (backups / name).write_bytes(b"x")
    removed = rotate(backups, host, keep=2)
    assert sorted(p.name for p in removed) == sorted(ours[:2])
    assert sorted(p.name for p in backups.iterdir()) == sorted([*ours[2:], other, "notes.txt"])


def test_restore_refuses_a_backup_from_a_newer_schema_and_keeps_the_current_file(
    tmp_path: Path,
) -> None:
    newer = filled(tmp_path / "newer.db")
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    result = make_backup(newer, tmp_path / "out")
    current = filled(tmp_path / "hub.db", readings=5)
    before = rows(current)
    with pytest.raises(BackupError, match=r"comes from a newer hub .*update nursery-monitor first"):
        restore(result.path, current)
    assert rows(current) == before
    left = [p.name for p in tmp_path.iterdir()]
    assert not [name for name in left if "restor" in name], left  # nothing half done


def test_restore_keeps_the_replaced_database_aside_and_writes_0600(tmp_path: Path) -> None:
    source = filled(tmp_path / "source.db")
    result = make_backup(source, tmp_path / "out")
    current = filled(tmp_path / "hub.db", readings=7)
    before = rows(current)
    old = os.umask(0)
    try:
        done = restore(result.path, current)
    finally:
        os.umask(old)
    assert done.kept_aside is not None and done.kept_aside.name.startswith("hub.db.before-restore-")
    assert rows(done.kept_aside) == before
    assert rows(current) == rows(source)
    assert current.stat().st_mode & 0o777 == 0o600
    # The hub's next start opens it as usual (and would upgrade an older schema).
    with Store(current) as store:
        assert store.count_readings() == 300


def test_an_older_schema_backup_is_upgraded_by_the_hub_at_its_next_start(tmp_path: Path) -> None:
    older = filled(tmp_path / "older.db")
    con = sqlite3.connect(older)
    con.execute("DROP TABLE hourly")  # as the release before rollups had it
    con.execute("DELETE FROM meta WHERE key = 'rollup.hourly'")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    result = make_backup(older, tmp_path / "out")
    target = tmp_path / "fresh" / "hub.db"
    done = restore(result.path, target)
    assert done.manifest.schema_version == 1
    with Store(target) as store:
        assert store.count_readings() == 300
    con = sqlite3.connect(target)
    assert con.execute("SELECT sum(count) FROM hourly").fetchone()[0] == 300
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_something_that_is_not_a_backup_gets_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.tar"
    with tarfile.open(junk, "w") as tar:
        info = tarfile.TarInfo("notes.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(BackupError, match="not a nursery backup"):
        restore(junk, tmp_path / "hub.db")
    (tmp_path / "random.bin").write_bytes(os.urandom(3000))
    with pytest.raises(BackupError, match="not a nursery backup"):
        restore(tmp_path / "random.bin", tmp_path / "hub.db")
    assert not (tmp_path / "hub.db").exists()


WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS load (x BLOB)")
db.execute("BEGIN")
db.executemany("INSERT INTO load VALUES (?)", [(bytes(400),)] * 120000)
db.execute("COMMIT")
print("ready", flush=True)
n = 0
while True:
    db.execute("INSERT INTO load VALUES (?)", (n.to_bytes(8, "big"),))
    n += 1
    time.sleep(0.005)  # a busy hub: a commit every few milliseconds
"""


@pytest.mark.slow
def test_a_backup_finishes_while_another_process_commits_without_pause(tmp_path: Path) -> None:
    """SQLite's backup API starts over whenever another connection commits; the backup
    pins one snapshot, so a hub committing all the time cannot keep it from finishing."""
    import subprocess
    import sys
    import threading

    from tests.support import wait_until

    db = filled(tmp_path / "hub.db", readings=10)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        done: list[object] = []
        thread = threading.Thread(
            target=lambda: done.append(make_backup(db, tmp_path / "out")), daemon=True
        )
        thread.start()
        wait_until(lambda: done, timeout=30, what="the backup to finish under constant commits")
    finally:
        writer.kill()
        writer.wait()
    with tarfile.open(next((tmp_path / "out").iterdir())) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["tables"]["load"] >= 120000


def test_a_damaged_database_is_replaced_and_kept_and_two_restores_keep_both(
    tmp_path: Path,
) -> None:
    """The card spoiled the file (the reason to restore): it is kept aside as it was."""
    source = filled(tmp_path / "source.db")
    result = make_backup(source, tmp_path / "out")
    current = tmp_path / "hub.db"
    current.write_bytes(b"not a database any more" * 500)
    first = restore(result.path, current)
    second = restore(result.path, current)
    assert first.kept_aside is not None and second.kept_aside is not None
    assert first.kept_aside != second.kept_aside
    assert first.kept_aside.read_bytes() == b"not a database any more" * 500
    assert rows(second.kept_aside) == rows(source) == rows(current)
