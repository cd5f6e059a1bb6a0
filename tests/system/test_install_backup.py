"""The installer's nightly backup (`scripts/install-pi --output DIR`): on by default into the
hub's own disk, off for a USB stick or NAS until asked, remembered across runs, units that
systemd accepts, and the service's own command line making a backup of the hub's file."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store.database import Store
from tests.support import without_settings
from tests.support.installer import ETC, install, installed, read_env

UNITS = "etc/systemd/system"
DATA = "var/lib/nursery-monitor"


def unit(root: Path, name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(root / UNITS / name)
    return parser


def backup_command(root: Path) -> list[str]:
    return shlex.split(unit(root, "nursery-backup.service")["Service"]["ExecStart"])


def test_nightly_backups_are_on_by_default_into_the_hubs_own_disk(tmp_path: Path) -> None:
    output = installed(tmp_path, "--role hub")
    assert "skipped: systemctl enable --now --quiet nursery-backup.timer" in output
    assert f"nightly backups: on, to {tmp_path}/{DATA}/backups (the newest 7 kept)" in output
    backups = tmp_path / DATA / "backups"
    assert backups.is_dir() and backups.stat().st_mode & 0o777 == 0o700
    service = unit(tmp_path, "nursery-backup.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["User"] == "nursery"
    assert service["Service"]["UMask"] == "0077"
    assert service["Service"]["IOSchedulingClass"] == "idle"
    assert backup_command(tmp_path)[1:] == [
        "backup",
        "--config",
        f"{tmp_path}/{ETC}/nursery.toml",
        "--to",
        str(backups),
        "--keep",
        "7",
    ]
    timer = unit(tmp_path, "nursery-backup.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 03:30:00"
    assert timer["Timer"]["Persistent"] == "true"  # a night the Pi was off is made up
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.slow
def test_a_usb_stick_or_nas_is_off_until_asked_and_remembered(tmp_path: Path) -> None:
    output = installed(tmp_path, "--role hub --backup-to /mnt/nursery-usb --backup-keep 30")
    assert "skipped: systemctl disable --now nursery-backup.timer" in output
    assert "nightly backups: off" in output
    command = backup_command(tmp_path)
    assert command[command.index("--to") + 1] == f"{tmp_path}/mnt/nursery-usb"
    assert command[command.index("--keep") + 1] == "30"
    service = unit(tmp_path, "nursery-backup.service")
    assert service["Unit"]["RequiresMountsFor"] == f"{tmp_path}/mnt/nursery-usb"
    assert not (tmp_path / "mnt").exists()  # never made on the SD card in its place

    output = installed(
        tmp_path, "--backup-nightly on --backup-passphrase-file /etc/nursery-monitor/backup.key"
    )
    assert "skipped: systemctl enable --now --quiet nursery-backup.timer" in output
    command = backup_command(tmp_path)
    assert command[-2:] == ["--passphrase-file", f"{tmp_path}/etc/nursery-monitor/backup.key"]
    assert command[command.index("--to") + 1] == f"{tmp_path}/mnt/nursery-usb"
    state = read_env(tmp_path / ETC / "install.env")
    assert state["backup_to"] == "/mnt/nursery-usb"
    assert state["backup_nightly"] == "on"
    assert state["backup_keep"] == "30"

    output = installed(tmp_path, "")  # a plain re-run after a `git pull` keeps all of it
    assert "nightly backups: on" in output
    output = installed(tmp_path, "--backup-to ''")  # back to the Pi's own disk: on
    assert f"nightly backups: on, to {tmp_path}/{DATA}/backups" in output


def test_bad_backup_options_are_refused(tmp_path: Path) -> None:
    for args, message in (
        ("--backup-nightly maybe", "--backup-nightly must be on or off"),
        ("--backup-keep 0", "--backup-keep must be a whole number"),
        ("--backup-to relative/dir", "must be an absolute path"),
    ):
        result = install(tmp_path, args)
        assert result.returncode == 1
        assert message in result.stderr


def test_a_firmware_only_pi_gets_no_backup_units(tmp_path: Path) -> None:
    secret = tmp_path / "bedroom.password"
    secret.write_text("0123456789abcdef0123456789abcdef0123456789abcdef\n")
    pi = tmp_path / "pi"
    installed(pi, f"--role firmware --broker hub.local --password-file {secret}")
    assert (pi / UNITS / "nursery-firmware.service").exists()
    assert not (pi / UNITS / "nursery-backup.service").exists()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd is not installed")
def test_systemd_analyze_verify_accepts_the_backup_units(tmp_path: Path) -> None:
    installed(tmp_path, "--role hub")
    stub = tmp_path / "opt/nursery-monitor/venv/bin/nursery"  # verify wants ExecStart to exist
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    units = [str(tmp_path / UNITS / n) for n in ("nursery-backup.service", "nursery-backup.timer")]
    result = subprocess.run(
        ["systemd-analyze", "verify", *units],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if "nursery-" in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@pytest.mark.slow
def test_the_services_command_backs_up_the_hubs_database(tmp_path: Path) -> None:
    installed(tmp_path, "--role hub --backup-keep 2")
    toml = (tmp_path / ETC / "nursery.toml").read_text()
    db = Path(next(line for line in toml.splitlines() if line.startswith("db = ")).split('"')[1])
    with Store(db) as store:
        store.secret("session-key")
    command = [sys.executable, "-m", "nursery", *backup_command(tmp_path)[1:]]
    for _ in range(3):
        result = subprocess.run(
            command,
            env=without_settings(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    made = sorted((tmp_path / DATA / "backups").iterdir())
    assert len(made) == 2  # --keep 2
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in made)
