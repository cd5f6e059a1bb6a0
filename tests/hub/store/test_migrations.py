"""One migration runner for every table: whichever part opens the file first makes and
upgrades all of it, once, and a file from a newer hub is refused in one line."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest

import hub.store.migrations
from hub.accounts import Accounts
from hub.episodes.storage import EpisodeStore
from hub.notify.outbox import PushOutbox
from hub.notify.used_links import UsedLinks
from hub.preferences import Preferences
from hub.store.database import SCHEMA_VERSION, Store
from hub.store.records import NewerDatabase, StoreError
from mqttlink.rules_settings import RulesSettings
from tests.support.cli import nursery


class _Closable(Protocol):
    def close(self) -> None: ...


# Each part of the hub that opens the database file on a connection of its own.
OPENERS: dict[str, Callable[[Path], _Closable]] = {
    "store": Store,
    "accounts": Accounts,
    "preferences": lambda path: Preferences(path, RulesSettings(), list),
    "used links": UsedLinks,
    "push outbox": PushOutbox,
    "episode log": EpisodeStore,
}


def objects(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return {(str(kind), str(name)) for kind, name in rows}


def version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


@pytest.fixture(scope="module")
def every_table(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """The tables and indexes of a file every part has opened."""
    path = tmp_path_factory.mktemp("all") / "hub.db"
    for open_part in OPENERS.values():
        open_part(path).close()
    return objects(path)


@pytest.mark.parametrize("first", OPENERS)
def test_whichever_part_opens_a_new_file_first_makes_every_table(
    first: str, tmp_path: Path, every_table: set[tuple[str, str]]
) -> None:
    """`nursery adduser` before the hub ever ran, or the outbox before the store: the file
    is complete and numbered, so no later part creates a table on the side."""
    path = tmp_path / "hub.db"
    OPENERS[first](path).close()
    assert objects(path) == every_table
    assert {"caregivers", "readings", "episodes", "pushes", "nightly_sent"} <= {
        name for kind, name in every_table if kind == "table"
    }
    assert version(path) == SCHEMA_VERSION


def counting_steps(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """How many times each numbered step runs from now on."""
    runs = dict.fromkeys((number for number, _ in hub.store.migrations.MIGRATIONS), 0)

    def counted(number: int, step: Callable[[sqlite3.Connection], None]) -> Callable[..., None]:
        def run(db: sqlite3.Connection) -> None:
            runs[number] += 1
            step(db)

        return run

    steps = tuple((n, counted(n, step)) for n, step in hub.store.migrations.MIGRATIONS)
    monkeypatch.setattr(hub.store.migrations, "MIGRATIONS", steps)
    return runs


def test_steps_already_done_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.db"
    Store(path).close()
    runs = counting_steps(monkeypatch)
    for open_part in OPENERS.values():
        open_part(path).close()
    assert set(runs.values()) == {0}


def test_parts_opening_an_old_file_together_upgrade_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At hub start the store, accounts, preferences, links, outbox and episode log open
    the file on their own connections: one of them upgrades it, the others wait for it."""
    path = tmp_path / "hub.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE boots DROP COLUMN contiguous_seq")
        db.execute("DROP TABLE caregivers")
        db.execute("PRAGMA user_version = 1")
    runs = counting_steps(monkeypatch)
    start = threading.Barrier(len(OPENERS) + 1)
    failures: list[BaseException] = []

    def open_at_once(open_part: Callable[[Path], _Closable]) -> None:
        start.wait()
        try:
            open_part(path).close()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_at_once, args=(o,)) for o in OPENERS.values()]
    threads.append(threading.Thread(target=open_at_once, args=(Store,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert runs == dict.fromkeys(runs, 1)
    assert version(path) == SCHEMA_VERSION
    with sqlite3.connect(path) as db:
        assert "contiguous_seq" in {row[1] for row in db.execute("PRAGMA table_info(boots)")}
        assert db.execute("SELECT count(*) FROM caregivers").fetchone()[0] == 0


def newer_file(path: Path) -> int:
    Store(path).close()
    newer = SCHEMA_VERSION + 3
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {newer}")
    return newer


@pytest.mark.parametrize("part", OPENERS)
def test_a_file_from_a_newer_hub_is_refused_and_left_alone(part: str, tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    newer = newer_file(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE caregivers")  # a newer hub might have moved it
    before = objects(path)
    with pytest.raises(NewerDatabase) as refused:
        OPENERS[part](path).close()
    assert isinstance(refused.value, StoreError)
    message = str(refused.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"schema version {newer}, newer than this nursery-monitor's {SCHEMA_VERSION}" in message
    assert objects(path) == before, "the newer file was changed"
    assert version(path) == newer


@pytest.mark.parametrize(
    "command", [("hub",), ("adduser", "sam"), ("token", "--list")], ids=["hub", "adduser", "token"]
)
def test_nursery_commands_refuse_a_newer_database_in_one_line(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    path = tmp_path / "hub.db"
    newer = newer_file(path)
    ran = nursery(
        tmp_path,
        *command,
        input="a long enough password\n",
        NURSERY_HUB__DB=str(path),
        NURSERY_HUB__HTTP_PORT="9",
    )
    assert ran.returncode == 1
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert f"schema version {newer}, newer than this nursery-monitor's {SCHEMA_VERSION}" in lines[0]
    assert version(path) == newer


def test_nursery_status_names_a_newer_database_instead_of_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    newer = newer_file(path)
    ran = nursery(tmp_path, "status", NURSERY_HUB__DB=str(path), NURSERY_HUB__HTTP_PORT="9")
    assert ran.returncode == 1
    (database,) = [row for row in ran.stdout.splitlines() if row.startswith("database ")]
    assert "BAD" in database
    assert f"schema version {newer}, newer than this nursery-monitor's {SCHEMA_VERSION}" in database
