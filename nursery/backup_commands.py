"""`nursery backup` and `nursery restore`, against the configured hub database."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from hub.store.backup import BackupError, Manifest, default_backup_dir, make_backup
from hub.store.restore import restore
from hub.store.sealed import SealError, read_passphrase
from nursery.config import Settings

_HEALTH_WARNING = (
    "it holds the episode diary (health data) and the sign-in secrets: keep it private"
)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"


def _tables(manifest: Manifest) -> str:
    rows = sum(manifest.tables.values())
    detail = ", ".join(f"{name} {count:,}" for name, count in sorted(manifest.tables.items()))
    return f"{len(manifest.tables)} tables, {rows:,} rows ({detail})"


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    return read_passphrase(path)


def backup(
    settings: Settings, to: Path | None, keep: int | None, passphrase_file: Path | None
) -> int:
    """Exit 0 with a summary on stdout, 1 with one line on stderr."""
    directory = to if to is not None else default_backup_dir(settings.hub.db)
    try:
        result = make_backup(
            settings.hub.db,
            directory,
            keep=keep,
            passphrase=_passphrase(passphrase_file),
            progress=_progress,
            create=to is None,
        )
    except (BackupError, SealError) as exc:
        print(f"nursery backup: {exc}", file=sys.stderr)
        return 1
    manifest = result.manifest
    sealed = "encrypted" if passphrase_file is not None else "not encrypted"
    print(f"backup written: {result.path} ({_size(result.size)}, {sealed}, mode 0600)")
    print(f"  {_tables(manifest)}; database version {manifest.schema_version}")
    for old in result.removed:
        print(f"  removed the older backup {old.name}")
    print(f"  {_HEALTH_WARNING}" + ("" if passphrase_file else "; --passphrase-file to encrypt"))
    return 0


def restore_backup(settings: Settings, file: Path, passphrase_file: Path | None) -> int:
    """Exit 0 saying what was restored, 1 with one line on stderr."""
    try:
        restored = restore(file, settings.hub.db, _passphrase(passphrase_file))
    except (BackupError, SealError) as exc:
        print(f"nursery restore: {exc}", file=sys.stderr)
        return 1
    manifest = restored.manifest
    taken = datetime.fromisoformat(manifest.created)
    print(
        f"restored {restored.database} from the backup taken {taken:%Y-%m-%d %H:%M} UTC "
        f"on {manifest.host} (hub {manifest.hub_version})"
    )
    print(f"  {_tables(manifest)}; database version {manifest.schema_version}")
    if restored.kept_aside is not None:
        print(f"  the database it replaced is kept as {restored.kept_aside}")
    print("  start the hub again (sudo systemctl start nursery-hub)")
    return 0


def run_backup_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "backup":
        return backup(settings, args.to, args.keep, args.passphrase_file)
    return restore_backup(settings, args.file, args.passphrase_file)
