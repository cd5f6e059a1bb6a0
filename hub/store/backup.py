"""`nursery backup`: a consistent copy of the running hub's database and its manifest, in one
0600 tar file (encrypted with a passphrase when asked), taken without pausing ingest."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
import sqlite3
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, Final, cast

from contract.errors import NurseryError
from hub.store.dbfile import connect_read_only

FORMAT: Final = "nursery-backup/1"
MANIFEST_NAME: Final = "manifest.json"
DATABASE_NAME: Final = "hub.db"
PLAIN_SUFFIX: Final = ".tar"
SEALED_SUFFIX: Final = ".tar.enc"
# Pages copied per step of SQLite's backup API (4 KiB each): a step is a few milliseconds.
STEP_PAGES: Final = 256
_NAME_RE: Final = re.compile(
    r"nursery-backup-(?P<host>.+)-(?P<stamp>\d{8}T\d{6}\.\d{3}Z)\.tar(\.enc)?"
)

Progress = Callable[[str], None]


class BackupError(NurseryError):
    """A backup could not be made or read; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup holds, checked again by `nursery restore`."""

    format: str
    created: str  # ISO 8601, UTC
    host: str
    hub_version: str
    schema_version: int  # PRAGMA user_version of the copy
    tables: dict[str, int]  # rows per table
    database_bytes: int
    database_sha256: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            raw = json.loads(data)
            manifest = cls(
                format=str(raw["format"]),
                created=str(raw["created"]),
                host=str(raw["host"]),
                hub_version=str(raw["hub_version"]),
                schema_version=int(raw["schema_version"]),
                tables={str(k): int(v) for k, v in dict(raw["tables"]).items()},
                database_bytes=int(raw["database_bytes"]),
                database_sha256=str(raw["database_sha256"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"the backup's manifest is unreadable ({exc})") from None
        if manifest.format != FORMAT:
            raise BackupError(f"not a backup this hub can read (format {manifest.format!r})")
        return manifest


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    manifest: Manifest
    removed: tuple[Path, ...]  # older backups rotated away


def hub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nursery-monitor")
    except PackageNotFoundError:
        return "unknown"


def host_label() -> str:
    """This machine's name as it goes into backup file names (one hub per machine)."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()).strip("-.")
    return name or "hub"


def backup_name(host: str, created: datetime, sealed: bool) -> str:
    suffix = SEALED_SUFFIX if sealed else PLAIN_SUFFIX
    stamp = f"{created:%Y%m%dT%H%M%S}.{created.microsecond // 1000:03d}Z"
    return f"nursery-backup-{host}-{stamp}{suffix}"


def default_backup_dir(db: Path) -> Path:
    """Where backups go without --to: `backups/` beside the database."""
    return db.absolute().parent / "backups"


@contextlib.contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file opened for writing, 0600 from its first byte whatever the umask; removed
    again when the block fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _owned_like(path: Path, db_path: Path) -> None:
    """Run as root (sudo), give what we made to the database's owner, the hub's user, so
    its nightly backups can rotate them and its restore can read them."""
    if os.geteuid() == 0:
        owner = db_path.stat()
        os.chown(path, owner.st_uid, owner.st_gid)


def table_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [
        str(row[0])
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {
        name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608
        for name in names
    }


def snapshot(db_path: Path, target: Path, progress: Progress | None = None) -> None:
    """Copy the live database at `db_path` into the new file `target` (0600), consistent as of
    one moment, while the hub goes on writing.

    The copy runs on a read-only connection that first opens a read transaction: in WAL
    mode that pins one snapshot, so the hub's writer is never blocked, and SQLite's backup
    API does not restart each time the hub commits (which, at a reading per second, it
    would forever). Call it from a process that does not have the file open itself: closing
    a second connection to it would drop the hub's locks (hub/store/dbfile.py).
    Raises BackupError.
    """
    try:
        source = connect_read_only(db_path)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"cannot read the hub's database: {exc}") from None
    with private_file(target):
        pass  # created 0600 before SQLite writes a byte of it
    try:
        dest = sqlite3.connect(target, isolation_level=None)
        try:
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # pins the snapshot
            last = [0.0]

            def step(status: int, remaining: int, total: int) -> None:
                now = time.monotonic()
                if progress is not None and total and now - last[0] >= 1.0:
                    last[0] = now
                    progress(f"copying the database: {100 * (total - remaining) // total} %")

            source.backup(dest, pages=STEP_PAGES, progress=step)
            source.execute("COMMIT")
            # One self-contained file: no -wal beside it to carry along.
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"cannot copy the hub's database: {exc}") from None
    finally:
        source.close()


def describe(copy: Path, created: datetime) -> Manifest:
    """The manifest of a finished copy: counts, schema version and checksum of the file."""
    db = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = table_counts(db)
        schema = int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()
    digest = hashlib.sha256()
    with copy.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return Manifest(
        format=FORMAT,
        created=created.isoformat(timespec="seconds"),
        host=host_label(),
        hub_version=hub_version(),
        schema_version=schema,
        tables=tables,
        database_bytes=copy.stat().st_size,
        database_sha256=digest.hexdigest(),
    )


def write_archive(out: IO[bytes], manifest: Manifest, copy: Path, mtime: float) -> None:
    """The manifest first (so a restore reads it before the data), then the database."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        body = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(body), 0o600, int(mtime)
        tar.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo(DATABASE_NAME)
        info.size, info.mode, info.mtime = manifest.database_bytes, 0o600, int(mtime)
        with copy.open("rb") as data:
            tar.addfile(info, data)


def rotate(directory: Path, host: str, keep: int) -> tuple[Path, ...]:
    """Remove all but the newest `keep` of this host's backups in `directory`."""
    ours = []
    for path in directory.iterdir():
        match = _NAME_RE.fullmatch(path.name)
        if match and match["host"] == host and path.is_file():
            ours.append((match["stamp"], path.name, path))
    ours.sort(reverse=True)
    removed = []
    for _, _, path in ours[keep:]:
        path.unlink(missing_ok=True)
        removed.append(path)
    return tuple(removed)


def make_backup(
    db_path: Path,
    directory: Path,
    *,
    keep: int | None = None,
    passphrase: bytes | None = None,
    progress: Progress | None = None,
    create: bool = True,
) -> BackupResult:
    """Back up the database at `db_path` into `directory` as one file, then keep only the
    newest `keep` of this hub's backups there. `create`: make `directory` (0700) when
    missing; else a missing one is an error (a USB stick or share that is not mounted must
    not fill the SD card instead). Raises BackupError."""
    from hub.store.sealed import SealingWriter

    if not db_path.is_file():
        raise BackupError(f"no hub database at {db_path}")
    if not create and not directory.is_dir():
        raise BackupError(
            f"{directory} does not exist: is the USB stick or network share mounted? "
            "(create the folder on it first)"
        )
    try:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True)
            _owned_like(directory, db_path)
    except OSError as exc:
        raise BackupError(f"cannot create {directory}: {exc.strerror}") from None
    created = datetime.now(UTC)
    host = host_label()
    final = directory / backup_name(host, created, sealed=passphrase is not None)
    if final.exists():
        raise BackupError(f"{final} exists already: one backup per millisecond at most")
    copy = directory / f".{final.name}.db.partial"
    partial = directory / f".{final.name}.partial"
    try:
        if progress:
            progress(f"copying {db_path} …")
        snapshot(db_path, copy, progress)
        manifest = describe(copy, created)
        if progress:
            progress(f"writing {final.name} …")
        with private_file(partial) as out:
            if passphrase is None:
                write_archive(out, manifest, copy, created.timestamp())
            else:
                sealed = SealingWriter(out, passphrase)
                write_archive(cast(IO[bytes], sealed), manifest, copy, created.timestamp())
                sealed.close()
        _owned_like(partial, db_path)
        partial.rename(final)
    except OSError as exc:
        raise BackupError(f"cannot write the backup in {directory}: {exc}") from None
    finally:
        copy.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    try:
        removed = rotate(directory, host, keep) if keep is not None else ()
    except OSError as exc:
        raise BackupError(f"wrote {final}, but cannot remove older backups: {exc}") from None
    return BackupResult(final, final.stat().st_size, manifest, removed)
