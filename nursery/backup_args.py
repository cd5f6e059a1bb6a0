"""The `nursery backup` and `nursery restore` arguments: argparse only, so building the
parser imports nothing of the hub on a firmware-only Pi."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def add_backup_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """`nursery backup` and `nursery restore` (nursery/backup_commands.py, docs/install.md)."""
    backup = commands.add_parser(
        "backup",
        help="copy the hub's database (history, diary, accounts, settings) into one file",
        description="Copy everything the hub keeps into one 0600 file with a manifest, while "
        "the hub runs (ingest goes on). Run it as the hub's user.",
    )
    add_common(backup)
    backup.add_argument(
        "--to",
        type=Path,
        metavar="DIR",
        help="an existing folder to write it in (default: backups/ beside hub.db, made if missing)",
    )
    backup.add_argument(
        "--keep", type=_keep, metavar="N", help="then keep only this hub's newest N backups in DIR"
    )
    backup.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help="encrypt with the passphrase in FILE (for a USB stick or a NAS)",
    )
    restore = commands.add_parser(
        "restore",
        help="put a backup in place of the hub's database (stop the hub first)",
        description="Check FILE (checksums, SQLite's integrity check, its database version) "
        "and put it in place of hub.db; the file it replaces is kept beside it.",
    )
    add_common(restore)
    restore.add_argument("file", type=Path, metavar="FILE", help="a file `nursery backup` wrote")
    restore.add_argument(
        "--passphrase-file", type=Path, metavar="FILE", help="the passphrase it was encrypted with"
    )


def _keep(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a whole number, 1 or more")
    return int(text)
