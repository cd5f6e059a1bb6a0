"""The installer in an image build or chroot (--no-start, no running systemd), its progress
lines, its closing summary, and the command add-device prints for the next Pi."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.installer import (
    ETC,
    SCRIPT,
    Hub,
    Session,
    can_fake_a_chroot,
    install,
    install_offline,
    installed,
    installed_pi,
    login,
)

UNITS = Path("etc/systemd/system")
WANTS = UNITS / "multi-user.target.wants"
needs_systemctl = pytest.mark.skipif(
    not shutil.which("systemctl"), reason="systemd is not installed"
)


def claims_running(output: str) -> list[str]:
    """Lines saying a service runs: 'X is running' or 'services: …: running'."""
    return [line for line in output.splitlines() if re.search(r"is running|: running", line)]


@needs_systemctl
def test_no_start_enables_the_units_and_says_they_are_not_started(tmp_path: Path) -> None:
    output = installed(tmp_path, "--role both --no-start")
    # Enabled the way systemctl enables them offline: a link in the target's wants dir.
    for unit in ("nursery-hub.service", "nursery-firmware.service"):
        link = tmp_path / WANTS / unit
        assert link.is_symlink(), output
        assert str(link.readlink()) == f"/{UNITS}/{unit}"  # as seen from inside the image
        assert (tmp_path / UNITS / unit).is_file()
    summary = output.split("done.", 1)[1]
    assert "enabled, not started (--no-start)" in summary
    assert "they start at the next boot" in summary
    assert claims_running(output) == []


@needs_systemctl
@pytest.mark.skipif(Path("/run/systemd/system").exists(), reason="systemd runs here")
def test_where_systemd_is_not_running_it_only_enables_and_says_why(tmp_path: Path) -> None:
    """What an SD card image build or a chroot is: no systemd as init. The installer
    finds that out by itself instead of failing or reporting services as running."""
    output = installed(tmp_path, "--role hub")
    assert (tmp_path / WANTS / "nursery-hub.service").is_symlink()
    assert "enabled, not started (systemd is not running here" in output.split("done.", 1)[1]
    assert claims_running(output) == []


def test_each_step_says_where_it_is_and_apt_and_pip_are_not_silenced(tmp_path: Path) -> None:
    output = installed(tmp_path, "--role hub --no-start")
    steps = re.findall(r"^install-pi: step (\d+) of (\d+): ", output, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, 10))
    assert {total for _, total in steps} == {"9"}
    apt = next(line for line in output.splitlines() if "skipped: apt-get install" in line)
    pip = next(line for line in output.splitlines() if " -m pip " in line)
    assert "-qq" not in apt.split() and ">/dev/null" not in apt
    assert "--quiet" not in pip.split() and "-q" not in pip.split()
    assert "--progress-bar on" in pip
    # A Pi with only the sensor has no Mosquitto step.
    password = tmp_path / "password"
    password.write_text("a-password-from-add-device\n")
    firmware = installed(
        tmp_path / "fw",
        f"--role firmware --broker hub.local --password-file {password} --no-start",
    )
    totals = re.findall(r"^install-pi: step \d+ of (\d+): ", firmware, re.MULTILINE)
    assert set(totals) == {"8"} and len(totals) == 8


def test_the_summary_says_how_to_sign_in_the_first_time(tmp_path: Path) -> None:
    output = installed(tmp_path, "--role hub --http-port 8123 --no-start")
    summary = output.split("done.", 1)[1]
    host = re.search(r"dashboard: +http://(\S+):8123/\n", summary)
    assert host, summary
    assert f"http://{host.group(1)}:8123/setup" in summary
    assert "one-time" in summary and "journalctl -u nursery-hub -g 'one-time code'" in summary
    # --output keeps nursery.toml outside /etc, so the command names it.
    config = tmp_path / ETC / "nursery.toml"
    assert f"nursery adduser NAME --config {config}" in summary


@pytest.mark.broker
def test_add_device_prints_a_command_that_works(tmp_path: Path) -> None:
    """Run the printed install command as printed (on a second 'Pi': another directory)
    after copying the password as the printed ssh line does."""
    with installed_pi(tmp_path / "hub") as hub:
        assert_add_device_command_works(hub, tmp_path / "bedroom")


def assert_add_device_command_works(hub: Hub, pi: Path) -> None:
    output = installed(hub.root, "add-device bedroom")
    line = next(line for line in output.splitlines() if "scripts/install-pi --role" in line)
    words = shlex.split(line.replace("~/nursery.password", "PASSWORD"))
    assert words[:2] == ["sudo", "scripts/install-pi"], line
    copied = pi.parent / "nursery.password"  # what the ssh line writes on the new Pi
    copied.write_text((hub.root / ETC / "devices/bedroom.password").read_text())
    args = [str(copied) if word == "PASSWORD" else word for word in words[2:]]
    result = install(pi, shlex.join([*args, "--no-start"]))
    assert result.returncode == 0, result.stdout + result.stderr
    pip = next(line for line in result.stdout.splitlines() if " -m pip " in line)
    assert shlex.split(pip)[-1] == f"{ROOT}[firmware,pi]"  # its own clone, not the index
    assert f"port = {hub.port}\n" in (pi / ETC / "nursery.toml").read_text()

    hub.broker.reload()
    bedroom = Session(hub.port, *login(pi, "firmware"))
    reader = Session(hub.port, *login(hub.root, "hub"))
    try:
        assert bedroom.accepted
        reader.subscribe("nursery/bedroom/reading")
        bedroom.publish("nursery/bedroom/reading", b"from the new Pi")
        assert reader.next()[:2] == ("nursery/bedroom/reading", b"from the new Pi")
    finally:
        bedroom.close()
        reader.close()


def test_help_lists_no_start() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert "--no-start" in result.stdout
    assert "PyPI" not in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(bool(can_fake_a_chroot()), reason=can_fake_a_chroot() or "ok")
def test_in_a_chroot_it_installs_everything_and_enables_without_starting(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Not --output: the whole install (pip into a venv from the checkout the script is
    in, Mosquitto's files, the units, systemctl) where systemd is not running, as in an
    SD card image being built. The services are enabled, none is said to run, and the
    program installed works."""
    checkout = tmp_path / "clone"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (checkout / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / os.fsdecode(name))
    work = tmp_path / "pi"
    result = install_offline(work, checkout, "--role hub --mqtt-port 18830")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]

    enabled = output.split("=== enabled", 1)[1]
    assert (
        "multi-user.target.wants/nursery-hub.service -> /etc/systemd/system/nursery-hub.service"
        in enabled
    )
    assert "multi-user.target.wants/mosquitto.service -> " in enabled
    summary = output.split("done.", 1)[1]
    assert "enabled, not started (systemd is not running here" in summary
    assert claims_running(output) == []
    # pip said what it installed, and took it from the clone, not from an index.
    assert "Successfully installed" in output
    direct_url = next(
        (work / "opt/venv/lib").glob(
            "python3*/site-packages/nursery_monitor-*.dist-info/direct_url.json"
        )
    )
    assert f"file://{checkout}" in direct_url.read_text()

    # The program works: the first caregiver, made as the summary says.
    clean_env.setenv("NURSERY_CONFIG", str(work / "etc/nursery.toml"))
    adduser = subprocess.run(
        [str(work / "opt/venv/bin/nursery"), "adduser", "sam"],
        input="a long password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert adduser.returncode == 0, adduser.stderr
    assert (work / "data/nursery.db").is_file()
