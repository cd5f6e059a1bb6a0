"""Caregivers' accounts: Argon2id passwords, lock-out, sessions, tokens, and the commands
`nursery adduser` and `nursery token` as a user types them."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.accounts import AccountError, Accounts, LockedOut, LoginFailed, Throttle
from tests.test_cli import nursery


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Accounts:
    return Accounts(tmp_path / "hub.db", clock, session_ttl_s=3600, max_failures=3, lockout_s=600)


def test_passwords_are_stored_as_argon2id_hashes_in_a_private_file(
    tmp_path: Path, accounts: Accounts
) -> None:
    accounts.add("Sam", "correct horse")
    db = tmp_path / "hub.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    stored = sqlite3.connect(db).execute("SELECT password_hash FROM caregivers").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in db.read_bytes().decode("latin-1")
    assert accounts.authenticate("sam", "correct horse").name == "Sam"  # names ignore case


@pytest.mark.parametrize(
    ("name", "password", "field"),
    [
        ("", "long enough", "name"),
        ("<script>", "long enough", "name"),
        ("x" * 41, "long enough", "name"),
        ("Sam", "short", "password"),
    ],
)
def test_bad_names_and_passwords_are_refused_by_field(
    accounts: Accounts, name: str, password: str, field: str
) -> None:
    with pytest.raises(AccountError) as caught:
        accounts.add(name, password)
    assert caught.value.field == field


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    accounts.add("Sam", "correct horse")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("SAM", "another password")


def test_wrong_passwords_lock_the_account_then_it_opens_again(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.add("Sam", "correct horse")
    accounts.add("Alex", "battery staple")
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate("Sam", "wrong")
    with pytest.raises(LockedOut) as locked:
        accounts.authenticate("Sam", "wrong")
    assert locked.value.until == clock.now + timedelta(seconds=600)
    with pytest.raises(LockedOut):
        accounts.authenticate("Sam", "correct horse")  # even the right password waits
    assert accounts.authenticate("Alex", "battery staple").name == "Alex"  # others are fine
    clock.now += timedelta(seconds=601)
    assert accounts.authenticate("Sam", "correct horse").name == "Sam"
    with pytest.raises(LoginFailed):
        accounts.authenticate("Sam", "wrong")  # the count started again


def test_an_unknown_name_is_refused_like_a_wrong_password(accounts: Accounts) -> None:
    with pytest.raises(LoginFailed):
        accounts.authenticate("Nobody", "whatever password")


def test_sessions_expire_and_end(accounts: Accounts, clock: Clock) -> None:
    sam = accounts.add("Sam", "correct horse")
    session_id, session = accounts.new_session(sam)
    assert accounts.session(session_id) == session
    assert accounts.session(session_id + "x") is None
    clock.now += timedelta(seconds=3601)
    assert accounts.session(session_id) is None
    clock.now -= timedelta(seconds=3601)
    accounts.end_session(session_id)
    assert accounts.session(session_id) is None


def test_a_new_password_ends_every_session_and_unlocks(accounts: Accounts) -> None:
    sam = accounts.add("Sam", "correct horse")
    session_id, _ = accounts.new_session(sam)
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate("Sam", "wrong")
    with pytest.raises(LockedOut):
        accounts.authenticate("Sam", "wrong")
    accounts.set_password("Sam", "a new password")
    assert accounts.session(session_id) is None
    assert accounts.authenticate("Sam", "a new password") == sam


def test_tokens_act_for_their_caregiver_and_only_a_hash_is_kept(
    tmp_path: Path, accounts: Accounts
) -> None:
    sam = accounts.add("Sam", "correct horse")
    token = accounts.new_token("Sam", "home assistant")
    assert token.startswith("nm_")
    assert accounts.token_caregiver(token) == sam
    assert accounts.token_caregiver(token[:-1]) is None
    assert accounts.token_caregiver("Bearer") is None
    assert token not in (tmp_path / "hub.db").read_bytes().decode("latin-1")
    with pytest.raises(AccountError, match="no caregiver"):
        accounts.new_token("Nobody")


def test_throttle_allows_a_burst_per_address_then_refuses_until_the_window_passes() -> None:
    throttle = Throttle(limit=3, window_s=60)
    assert [throttle.allow("10.0.0.5", t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert throttle.allow("10.0.0.6", 3)
    assert throttle.allow("10.0.0.5", 61)


# --- the commands -------------------------------------------------------------------


def test_adduser_reads_the_password_from_stdin_and_token_prints_a_working_token(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    env = {"NURSERY_HUB__DB": str(db)}
    added = subprocess.run(
        [sys.executable, "-m", "nursery", "adduser", "Sam"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**nursery_env(), **env},
    )
    assert added.returncode == 0, added.stderr
    assert "added caregiver 'Sam'" in added.stdout
    assert "correct horse" not in added.stdout + added.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    made = nursery(tmp_path, "token", "Sam", **env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    accounts = Accounts(db)
    assert accounts.token_caregiver(token) is not None
    assert accounts.authenticate("Sam", "correct horse").name == "Sam"
    accounts.close()


def test_adduser_again_sets_a_new_password(tmp_path: Path) -> None:
    env = {**nursery_env(), "NURSERY_HUB__DB": str(tmp_path / "hub.db")}
    for password in ("first password", "second password"):
        subprocess.run(
            [sys.executable, "-m", "nursery", "adduser", "Sam"],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=env,
            check=True,
        )
    accounts = Accounts(tmp_path / "hub.db")
    with pytest.raises(LoginFailed):
        accounts.authenticate("Sam", "first password")
    assert accounts.authenticate("Sam", "second password").name == "Sam"
    accounts.close()


def test_commands_explain_a_bad_password_or_an_unknown_caregiver_in_one_line(
    tmp_path: Path,
) -> None:
    env = {**nursery_env(), "NURSERY_HUB__DB": str(tmp_path / "hub.db")}
    short = subprocess.run(
        [sys.executable, "-m", "nursery", "adduser", "Sam"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert short.returncode == 1
    assert short.stderr.strip() == "nursery adduser: password must be at least 8 characters"
    unknown = nursery(tmp_path, "token", "Nobody", NURSERY_HUB__DB=str(tmp_path / "hub.db"))
    assert unknown.returncode == 1
    assert "no caregiver named 'Nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def nursery_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
