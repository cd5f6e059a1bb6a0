"""`nursery adduser NAME` and `nursery token NAME`, against the configured hub database.

Run on the hub, as the user the hub runs as: they open the same SQLite file. The password
comes from stdin when stdin is not a terminal (`echo "$PW" | nursery adduser Sam`), else
from a prompt that asks twice; it never appears in the process list or a log.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from hub.accounts import AccountError, Accounts
from nursery.config import Settings


def _read_password(stdin: TextIO, name: str) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"New password for {name}: ")
    second = getpass.getpass("Again: ")
    if first != second:
        raise AccountError("password", "the two passwords differ")
    return first


def add_user(settings: Settings, name: str, stdin: TextIO = sys.stdin) -> int:
    """Add a caregiver, or set a new password when `name` exists (which also unlocks it
    and ends its sessions). Exit code 0 on success, 1 with one line on stderr otherwise."""
    accounts = Accounts(settings.hub.db)
    try:
        password = _read_password(stdin, name)
        if accounts.find(name) is None:
            caregiver = accounts.add(name, password)
            print(f"added caregiver {caregiver.name!r} to {settings.hub.db}")
        else:
            caregiver = accounts.set_password(name, password)
            print(f"new password for {caregiver.name!r}; their sessions have ended")
    except AccountError as exc:
        print(f"nursery adduser: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    return 0


def new_token(settings: Settings, name: str, label: str) -> int:
    """Print a new API token for caregiver `name` (shown once; only its hash is kept)."""
    accounts = Accounts(settings.hub.db)
    try:
        token = accounts.new_token(name, label)
    except AccountError as exc:
        print(f"nursery token: {exc}; add them first with `nursery adduser`", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    print(token)
    return 0
