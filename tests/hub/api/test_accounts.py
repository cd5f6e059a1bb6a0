"""Caregivers' accounts: Argon2id passwords, lock-outs per name and address, sessions,
tokens that expire and can be revoked, the upgrade of an older hub's file, and the
commands `nursery adduser` and `nursery token` as a user types them."""

from __future__ import annotations

import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.accounts import AccountError, Accounts, LockedOut, LoginFailed, Throttle
from hub.login_lockout import LOCKOUT_SCHEMA, LockPolicy, LoginLockout, client_key
from tests.support.cli import (
    OLD_ALEX_TOKEN,
    OLD_SAM_SESSION,
    OLD_SAM_TOKEN,
    adduser,
    nursery,
    old_database,
)
from tests.support.paths import ROOT

DATA = ROOT / "tests" / "data"
PHONE = "192.168.1.20"
GUEST = "192.168.1.66"


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
    assert accounts.authenticate("sam", "correct horse", address=PHONE).name == "Sam"


@pytest.mark.parametrize(
    ("name", "password", "field"),
    [
        ("", "long enough", "name"),
        ("<script>", "long enough", "name"),
        ("x" * 41, "long enough", "name"),
        ("Sam", "short", "password"),
        ("Sam", "password", "password"),
        ("Sam", "12345678", "password"),
        ("Sam", " Password1 ", "password"),
        ("Sam", "raspberry", "password"),
        ("Sam", "zzzzzzzzzz", "password"),
    ],
)
def test_bad_names_and_passwords_are_refused_by_field(
    accounts: Accounts, name: str, password: str, field: str
) -> None:
    with pytest.raises(AccountError) as caught:
        accounts.add(name, password)
    assert caught.value.field == field


def test_a_well_known_password_is_refused_saying_why(accounts: Accounts) -> None:
    sam = accounts.add("Sam", "correct horse")
    with pytest.raises(AccountError, match="well known: guessing tools try it first"):
        accounts.set_password("Sam", "12345678")
    assert accounts.authenticate("Sam", "correct horse", address=PHONE) == sam


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    accounts.add("Sam", "correct horse")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("SAM", "another password")


@pytest.mark.slow
def test_wrong_passwords_lock_the_name_from_that_address_only_then_it_opens_again(
    accounts: Accounts, clock: Clock
) -> None:
    sam = accounts.add("Sam", "correct horse")
    accounts.add("Alex", "battery staple")
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate("Sam", "wrong", address=GUEST)
    with pytest.raises(LockedOut) as locked:
        accounts.authenticate("Sam", "wrong", address=GUEST)
    assert locked.value.until == clock.now + timedelta(seconds=600)
    with pytest.raises(LockedOut):
        accounts.authenticate("Sam", "correct horse", address=GUEST)  # even the right one
    # The guest locked out their own device, not Sam: Sam's phone still signs in.
    assert accounts.authenticate("sam", "correct horse", address=PHONE) == sam
    assert accounts.authenticate("Alex", "battery staple", address=GUEST).name == "Alex"
    clock.now += timedelta(seconds=601)
    assert accounts.authenticate("Sam", "correct horse", address=GUEST) == sam
    for _ in range(2):  # a right password starts the count again
        with pytest.raises(LoginFailed):
            accounts.authenticate("Sam", "wrong", address=GUEST)


def test_each_wrong_password_after_a_lock_doubles_the_next_up_to_a_cap(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.add("Sam", "correct horse")
    for _ in range(2):
        with pytest.raises(LoginFailed):
            accounts.authenticate("Sam", "wrong", address=GUEST)
    locks = []
    for _ in range(8):
        with pytest.raises(LockedOut) as locked:
            accounts.authenticate("Sam", "wrong", address=GUEST)
        locks.append(locked.value.until - clock.now)
        clock.now = locked.value.until  # the moment it opens, one more guess
    assert [lock.total_seconds() / 60 for lock in locks] == [10, 20, 40, 80, 160, 160, 160, 160]
    assert LockPolicy(5, timedelta(minutes=15)).cap == timedelta(hours=4)  # the default's


def test_an_unknown_name_is_answered_and_locked_exactly_like_a_wrong_password(
    tmp_path: Path, accounts: Accounts, clock: Clock
) -> None:
    accounts.add("Sam", "correct horse")

    def answers(name: str, address: str) -> list[str]:
        seen = []
        for _ in range(4):
            try:
                accounts.authenticate(name, "wrong password", address=address)
            except LoginFailed:
                seen.append("failed")
            except LockedOut as locked:
                seen.append(f"locked until {locked.until}")
        return seen

    real, unknown = answers("Sam", GUEST), answers("Nobody", PHONE)
    with pytest.raises(LoginFailed):  # a password typed into the name field is not kept
        accounts.authenticate("my secret words", "wrong password", address=PHONE)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("hub.db*")).decode("latin-1")
    assert "my secret words" not in stored
    assert (
        real
        == unknown
        == ["failed", "failed"] + [f"locked until {clock.now + timedelta(minutes=10)}"] * 2
    )


def test_the_lock_out_table_forgets_old_failures_and_stays_small(clock: Clock) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(LOCKOUT_SCHEMA)
    lockout = LoginLockout(LockPolicy(3, timedelta(minutes=10)), max_rows=5)
    for _ in range(2):
        assert lockout.failed(db, "Sam", GUEST, clock.now) is None
    clock.now += timedelta(days=1, seconds=1)  # a day without a wrong password: forgotten
    assert lockout.failed(db, "Sam", GUEST, clock.now) is None
    for n in range(20):  # a script making up names
        lockout.failed(db, f"made-up {n}", GUEST, clock.now + timedelta(seconds=n))
    assert db.execute("SELECT count(*) FROM login_failures").fetchone()[0] == 5


def test_locks_are_kept_per_device_not_per_ipv6_address() -> None:
    # One IPv6 device can pick any address in its /64: they all share one lock.
    assert client_key("2001:db8:1:2::10") == client_key("2001:db8:1:2:abcd::99")
    assert client_key("2001:db8:1:2::10") != client_key("2001:db8:1:3::10")
    assert client_key("::ffff:192.168.1.20") == PHONE


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


def test_a_new_password_ends_that_caregivers_sessions_and_tokens_and_lifts_locks(
    accounts: Accounts,
) -> None:
    sam = accounts.add("Sam", "correct horse")
    alex = accounts.add("Alex", "battery staple")
    sam_session, _ = accounts.new_session(sam)
    alex_session, _ = accounts.new_session(alex)
    sam_token, alex_token = accounts.new_token("Sam"), accounts.new_token("Alex")
    for _ in range(3):
        with pytest.raises((LoginFailed, LockedOut)):
            accounts.authenticate("Sam", "wrong", address=GUEST)
    with pytest.raises(LockedOut):
        accounts.authenticate("Sam", "correct horse", address=GUEST)
    accounts.set_password("Sam", "a new password")
    assert accounts.session(sam_session) is None
    assert accounts.token_caregiver(sam_token) is None
    assert [t.caregiver for t in accounts.tokens()] == ["Alex"]
    # Alex's are untouched.
    assert accounts.session(alex_session) is not None
    assert accounts.token_caregiver(alex_token) == alex
    assert accounts.authenticate("Sam", "a new password", address=GUEST) == sam


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


def test_a_token_with_an_expiry_stops_working_then_and_is_listed_as_such(
    accounts: Accounts, clock: Clock
) -> None:
    sam = accounts.add("Sam", "correct horse")
    token, info = accounts.make_token("Sam", "home assistant", timedelta(days=30))
    assert info.expires_at == clock.now + timedelta(days=30)
    forever = accounts.new_token("Sam", "backup")
    clock.now += timedelta(days=30) - timedelta(seconds=1)
    assert accounts.token_caregiver(token) == sam
    clock.now += timedelta(seconds=1)
    assert accounts.token_caregiver(token) is None
    assert accounts.token_caregiver(forever) == sam
    listed = {t.label: t for t in accounts.tokens()}
    assert listed["home assistant"].expires_at == clock.now
    assert listed["backup"].expires_at is None


def test_tokens_are_listed_with_their_last_use_and_revoked_one_by_one(
    tmp_path: Path, accounts: Accounts, clock: Clock
) -> None:
    accounts.add("Sam", "correct horse")
    accounts.add("Alex", "battery staple")
    ha, ha_info = accounts.make_token("Sam", "home assistant")
    script, _ = accounts.make_token("Alex", "script")
    assert [t.last_used_at for t in accounts.tokens()] == [None, None]
    accounts.token_caregiver(ha)
    clock.now += timedelta(seconds=20)
    accounts.token_caregiver(ha)  # within a minute: not written again
    listed = accounts.tokens()
    assert [(t.id, t.caregiver, t.label) for t in listed] == [
        (ha_info.id, "Sam", "home assistant"),
        (ha_info.id + 1, "Alex", "script"),
    ]
    assert listed[0].last_used_at == clock.now - timedelta(seconds=20)
    assert listed[0].created_at == clock.now - timedelta(seconds=20)
    assert accounts.revoke_token(ha_info.id).label == "home assistant"
    assert accounts.token_caregiver(ha) is None
    assert accounts.token_caregiver(script) is not None
    with pytest.raises(AccountError, match=f"no API token has id {ha_info.id}"):
        accounts.revoke_token(ha_info.id)
    text = (tmp_path / "hub.db").read_bytes().decode("latin-1")
    assert ha not in text and script not in text


def test_a_database_from_the_previous_hub_keeps_its_caregivers_tokens_and_sessions(
    tmp_path: Path, clock: Clock
) -> None:
    path = old_database(tmp_path / "hub.db")
    clock.now = datetime(2026, 12, 6, tzinfo=UTC)  # while the old session still runs
    accounts = Accounts(path, clock)
    columns = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(api_tokens)")]
    assert "expires_ms" in columns
    assert [c.name for c in accounts.caregivers()] == ["Sam", "Alex"]
    assert accounts.authenticate("Sam", "correct horse", address=PHONE).name == "Sam"
    assert accounts.authenticate("Alex", "battery staple", address=PHONE).name == "Alex"
    assert accounts.token_caregiver(OLD_SAM_TOKEN) == accounts.find("Sam")
    assert accounts.token_caregiver(OLD_ALEX_TOKEN) == accounts.find("Alex")
    session = accounts.session(OLD_SAM_SESSION)
    assert session is not None and session.caregiver.name == "Sam"
    assert [(t.label, t.expires_at) for t in accounts.tokens()] == [
        ("home-assistant", None),
        ("backup script", None),
    ]
    # What is new works on the old file too, and opening it again changes nothing.
    token, _ = accounts.make_token("Sam", "new", timedelta(days=1))
    accounts.close()
    again = Accounts(path, clock)
    assert again.token_caregiver(token) is not None
    assert len(again.tokens()) == 3
    again.close()


def test_throttle_allows_a_burst_per_address_then_refuses_until_the_window_passes() -> None:
    throttle = Throttle(limit=3, window_s=60)
    assert [throttle.allow("10.0.0.5", t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert throttle.allow("10.0.0.6", 3)
    assert throttle.allow("10.0.0.5", 61)


# --- the commands -------------------------------------------------------------------


@pytest.mark.slow
def test_adduser_reads_the_password_from_stdin_and_token_prints_a_working_token(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    env = {"NURSERY_HUB__DB": str(db)}
    added = adduser(tmp_path, "Sam", "correct horse")
    assert added.returncode == 0, added.stderr
    assert "added caregiver 'Sam'" in added.stdout
    assert "correct horse" not in added.stdout + added.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    made = nursery(tmp_path, "token", "Sam", **env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    accounts = Accounts(db)
    assert accounts.token_caregiver(token) is not None
    assert accounts.authenticate("Sam", "correct horse", address=PHONE).name == "Sam"
    accounts.close()


@pytest.mark.slow
def test_adduser_again_sets_a_new_password(tmp_path: Path) -> None:
    for password in ("first password", "second password"):
        assert adduser(tmp_path, "Sam", password).returncode == 0
    accounts = Accounts(tmp_path / "hub.db")
    with pytest.raises(LoginFailed):
        accounts.authenticate("Sam", "first password", address=PHONE)
    assert accounts.authenticate("Sam", "second password", address=PHONE).name == "Sam"
    accounts.close()


@pytest.mark.slow
def test_commands_explain_a_bad_password_or_an_unknown_caregiver_in_one_line(
    tmp_path: Path,
) -> None:
    short = adduser(tmp_path, "Sam", "short")
    assert short.returncode == 1
    assert short.stderr.strip() == "nursery adduser: password must be at least 8 characters"
    unknown = nursery(tmp_path, "token", "Nobody", NURSERY_HUB__DB=str(tmp_path / "hub.db"))
    assert unknown.returncode == 1
    assert "no caregiver named 'Nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.slow
@pytest.mark.parametrize("password", ["password", "12345678"])
def test_adduser_refuses_a_well_known_password_and_says_why(tmp_path: Path, password: str) -> None:
    refused = adduser(tmp_path, "Sam", password)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "nursery adduser: that password is well known: guessing tools try it first. "
        "Choose another (a few unrelated words make a good one)"
    )
    accounts = Accounts(tmp_path / "hub.db")
    assert accounts.count() == 0
    accounts.close()


@pytest.mark.slow
def test_token_list_shows_each_token_but_never_its_secret_and_revoke_ends_one(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "hub.db")
    assert adduser(tmp_path, "Sam", "correct horse").returncode == 0
    assert adduser(tmp_path, "Alex", "battery staple").returncode == 0
    made = nursery(
        tmp_path, "token", "Sam", "--label", "home-assistant", "--expires", "30", NURSERY_HUB__DB=db
    )
    assert made.returncode == 0, made.stderr
    ha = made.stdout.strip()
    assert "token 1 for 'Sam' (home-assistant), valid until " in made.stderr
    script = nursery(tmp_path, "token", "Alex", NURSERY_HUB__DB=db).stdout.strip()

    listed = nursery(tmp_path, "token", "--list", NURSERY_HUB__DB=db)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "caregiver", "label", "created", "expires", "last", "used"]
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert re.fullmatch(
        rf"1 +Sam +home-assistant +\d{{4}}-\d\d-\d\d \d\d:\d\d UTC +{expires} \d\d:\d\d UTC +never",
        lines[1],
    ), lines[1]
    assert re.fullmatch(r"2 +Alex +automation +\S+ \S+ UTC +never +never", lines[2]), lines[2]
    assert ha not in listed.stdout and script not in listed.stdout

    revoked = nursery(tmp_path, "token", "--revoke", "1", NURSERY_HUB__DB=db)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == "revoked token 1 of 'Sam' (home-assistant)"
    accounts = Accounts(tmp_path / "hub.db")
    assert accounts.token_caregiver(ha) is None
    assert accounts.token_caregiver(script) is not None
    accounts.close()
    after = nursery(tmp_path, "token", "--list", NURSERY_HUB__DB=db).stdout.splitlines()
    assert [line.split()[0] for line in after] == ["id", "2"]
    again = nursery(tmp_path, "token", "--revoke", "1", NURSERY_HUB__DB=db)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "nursery token: no API token has id 1; see `nursery token --list`"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--list", "--revoke", "1"], "argument --revoke: not allowed with argument --list"),
        (["Sam", "--list"], "argument --list: not allowed with argument NAME"),
        ([], "one of the arguments NAME --list --revoke is required"),
        (["Sam", "--expires", "0"], "argument --expires: must be a whole number of days"),
        (["--list", "--expires", "3"], "--label and --expires go with NAME, for a new token"),
    ],
)
def test_token_explains_a_wrong_use_in_one_line(
    tmp_path: Path, args: list[str], error: str
) -> None:
    wrong = nursery(tmp_path, "token", *args, NURSERY_HUB__DB=str(tmp_path / "hub.db"))
    assert wrong.returncode == 2
    assert error in wrong.stderr.splitlines()[-1]
