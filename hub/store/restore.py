"""`nursery restore`: check a backup (checksum, integrity, schema) and put it in place of the
hub's database, never over a running hub's file and never losing the file it replaces."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

from hub.store.backup import (
    DATABASE_NAME,
    MANIFEST_NAME,
    BackupError,
    Manifest,
    private_file,
    table_counts,
)
from hub.store.migrations import SCHEMA_VERSION
from hub.store.sealed import OpeningReader, is_sealed


class HubRunning(BackupError):
    """The hub has the database open: restoring under it would lose what it writes next."""


@dataclass(frozen=True, slots=True)
class Restored:
    database: Path
    manifest: Manifest
    kept_aside: Path | None  # the replaced database, renamed


def _member(tar: tarfile.TarFile, name: str) -> tuple[tarfile.TarInfo, IO[bytes]]:
    info = tar.next()
    if info is None or info.name != name or not info.isfile():
        raise BackupError(f"not a nursery backup: {name} is not where it belongs")
    data = tar.extractfile(info)
    assert data is not None  # a regular file always has its data
    return info, data


def unpack(path: Path, into: Path, passphrase: bytes | None) -> Manifest:
    """Write the backup's database into the new file `into` (0600) and return its manifest,
    after checking the file's size and sha256 against it. Raises BackupError (SealError
    for a wrong passphrase)."""
    sealed = is_sealed(path)
    if sealed and passphrase is None:
        raise BackupError(f"{path} is encrypted: give its --passphrase-file")
    try:
        with path.open("rb") as file:
            source: IO[bytes] = file
            if passphrase is not None and sealed:
                source = cast(IO[bytes], OpeningReader(file, passphrase))
            with tarfile.open(fileobj=source, mode="r|") as tar:
                _, data = _member(tar, MANIFEST_NAME)
                manifest = Manifest.from_json(data.read(1 << 20))
                info, data = _member(tar, DATABASE_NAME)
                digest = hashlib.sha256()
                with private_file(into) as out:
                    while block := data.read(1 << 20):
                        digest.update(block)
                        out.write(block)
    except tarfile.TarError as exc:
        into.unlink(missing_ok=True)
        raise BackupError(f"{path} is not a nursery backup, or is damaged ({exc})") from None
    except OSError as exc:
        into.unlink(missing_ok=True)
        raise BackupError(f"cannot read {path}: {exc}") from None
    except BackupError:
        into.unlink(missing_ok=True)
        raise
    if info.size != manifest.database_bytes or digest.hexdigest() != manifest.database_sha256:
        into.unlink(missing_ok=True)
        raise BackupError(f"{path} is damaged: its database does not match the manifest's checksum")
    return manifest


def check_copy(copy: Path, manifest: Manifest) -> None:
    """SQLite's integrity check, the schema version and every table's row count against the
    manifest. Raises BackupError."""
    db = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
        schema = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = table_counts(db)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup's database cannot be read: {exc}") from None
    finally:
        db.close()
    if verdict != ["ok"]:
        raise BackupError(f"the backup's database fails SQLite's integrity check: {verdict[0]}")
    if schema > SCHEMA_VERSION:
        raise BackupError(
            f"this backup comes from a newer hub (database version {schema}, this hub "
            f"knows up to {SCHEMA_VERSION}): update nursery-monitor first, then restore"
        )
    if schema != manifest.schema_version or tables != manifest.tables:
        raise BackupError("the backup's database does not match its manifest")


@contextlib.contextmanager
def exclusive(db_path: Path) -> Iterator[None]:
    """Hold SQLite's exclusive lock on the current database while it is replaced. Every
    connection to a WAL database, the hub's included, holds a shared lock on the file for
    as long as it is open, under whatever user the hub runs as: a hub that is running
    makes this fail at once with HubRunning. Its WAL is folded into the file first, so the
    file kept aside is whole on its own."""
    if not db_path.exists():
        yield
        return
    probe = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        try:
            probe.execute("PRAGMA locking_mode=EXCLUSIVE")
            probe.execute("BEGIN EXCLUSIVE")
            probe.execute("COMMIT")
            probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HubRunning(
                    f"the hub is running with {db_path} open: stop it first "
                    "(sudo systemctl stop nursery-hub), then restore"
                ) from None
            # Not a database any more (the reason to restore, perhaps): kept aside as it is.
        except sqlite3.DatabaseError:
            pass
        yield
    finally:
        probe.close()


def _set_aside(db_path: Path, stamp: str) -> Path | None:
    """Rename the current database and its -wal and -shm to `<name>.before-restore-<stamp>`."""
    if not db_path.exists():
        return None
    aside = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    number = 1
    while any(Path(f"{aside}{suffix}").exists() for suffix in ("", "-wal", "-shm", "-journal")):
        number += 1  # a second restore within the second: never over the first one's file
        aside = db_path.with_name(f"{db_path.name}.before-restore-{stamp}-{number}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            side.rename(Path(f"{aside}{suffix}"))
    return aside


def _owner_of(db_path: Path) -> tuple[int, int] | None:
    """The user and group the restored file should have: those of the file it replaces
    (or of its directory), when we run as root; else None (it stays ours)."""
    if os.geteuid() != 0:
        return None
    for candidate in (db_path, db_path.parent):
        with contextlib.suppress(OSError):
            stat = candidate.stat()
            return stat.st_uid, stat.st_gid
    return None


def restore(path: Path, db_path: Path, passphrase: bytes | None = None) -> Restored:
    """Put the backup at `path` in place of the hub's database `db_path`. Nothing is changed
    unless every check passed; the replaced file is renamed, never deleted. Raises
    BackupError (HubRunning when the hub has the file open)."""
    db_path = db_path.absolute()
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {db_path.parent}: {exc.strerror}") from None
    incoming = db_path.with_name(f".{db_path.name}.restoring")
    incoming.unlink(missing_ok=True)  # a restore cut short before
    manifest = unpack(path, incoming, passphrase)
    try:
        check_copy(incoming, manifest)
        owner = _owner_of(db_path)
        if owner is not None:
            os.chown(incoming, *owner)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        with exclusive(db_path):
            aside = _set_aside(db_path, stamp)
            incoming.rename(db_path)
        _sync_directory(db_path.parent)
    except OSError as exc:
        raise BackupError(f"cannot put the backup in place of {db_path}: {exc}") from None
    finally:
        incoming.unlink(missing_ok=True)
    return Restored(db_path, manifest, aside)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
