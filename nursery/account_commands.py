"""`nursery adduser NAME` and `nursery token NAME | --list | --revoke ID`, against the
configured hub database."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from hub.accounts import AccountError, Accounts, TokenInfo
from hub.store.records import StoreError
from nursery.config import Settings


def _open(settings: Settings, command: str) -> Accounts:
    """The accounts in the hub's database, or one line and exit 1 when the file cannot be
    used (a newer hub's, say, which this version must not change)."""
    try:
        return Accounts(settings.hub.db)
    except StoreError as exc:
        print(f"nursery {command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _read_password(stdin: TextIO, name: str) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"New password for {name}: ")
    second = getpass.getpass("Again: ")
    if first != second:
        raise AccountError("password", "the two passwords differ")
    return first


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def add_user(settings: Settings, name: str, stdin: TextIO = sys.stdin) -> int:
    """Add a caregiver, or set a new password when `name` exists (which also lifts its
    locks and ends its sessions and API tokens). Exit code 0 on success, 1 with one line
    on stderr otherwise."""
    accounts = _open(settings, "adduser")
    try:
        password = _read_password(stdin, name)
        existing = accounts.find(name)
        if existing is None:
            caregiver = accounts.add(name, password)
            print(f"added caregiver {caregiver.name!r} to {settings.hub.db}")
        else:
            tokens = sum(t.caregiver == existing.name for t in accounts.tokens())
            caregiver = accounts.set_password(name, password)
            print(
                f"new password for {caregiver.name!r}: signed out everywhere, "
                f"{_plural(tokens, 'API token')} revoked"
                + (f" (make new ones with `nursery token {caregiver.name}`)" if tokens else "")
            )
    except AccountError as exc:
        print(f"nursery adduser: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    return 0


def _when(moment: datetime | None, never: str = "never") -> str:
    return never if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def new_token(settings: Settings, name: str, label: str, expires_days: int | None = None) -> int:
    """Print a new API token for caregiver `name` on stdout (shown once; only its hash is
    kept), and on stderr which id `--revoke` takes and when it expires."""
    accounts = _open(settings, "token")
    valid_for = timedelta(days=expires_days) if expires_days is not None else None
    try:
        token, info = accounts.make_token(name, label, valid_for)
    except AccountError as exc:
        print(f"nursery token: {exc}; add them first with `nursery adduser`", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    print(token)
    print(
        f"token {info.id} for {info.caregiver!r} ({info.label}), valid "
        + (f"until {_when(info.expires_at)}" if info.expires_at else "until revoked")
        + f"; end it with `nursery token --revoke {info.id}`",
        file=sys.stderr,
    )
    return 0


def _rows(tokens: list[TokenInfo], now: datetime) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("id", "caregiver", "label", "created", "expires", "last used")]
    for t in tokens:
        expires = _when(t.expires_at)
        if t.expires_at is not None and t.expires_at <= now:
            expires += " (expired)"
        rows.append(
            (
                str(t.id),
                t.caregiver,
                t.label,
                _when(t.created_at),
                expires,
                _when(t.last_used_at),
            )
        )
    return rows


def list_tokens(settings: Settings) -> int:
    """`nursery token --list`: every API token, one a line, never the secret."""
    accounts = _open(settings, "token")
    try:
        tokens = accounts.tokens()
    finally:
        accounts.close()
    if not tokens:
        print("no API tokens; make one with `nursery token NAME`")
        return 0
    rows = _rows(tokens, datetime.now(UTC))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def revoke_token(settings: Settings, token_id: int) -> int:
    """`nursery token --revoke ID`: that token stops working at once."""
    accounts = _open(settings, "token")
    try:
        info = accounts.revoke_token(token_id)
    except AccountError as exc:
        print(f"nursery token: {exc}; see `nursery token --list`", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    print(f"revoked token {info.id} of {info.caregiver!r} ({info.label})")
    return 0
