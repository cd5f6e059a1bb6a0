"""Which nursery.toml the admin commands read without --config, step by step of the order."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mqttlink.settings import SettingsError
from nursery import config_file
from nursery.config import load_settings
from nursery.config_file import find_config
from tests.support import ROOT
from tests.support.cli import nursery
from tests.support.env import settings_env


def write(path: Path, port: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[hub]\nhttp_port = {port}\n")
    return path


@pytest.fixture
def places(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """A file at every step of the order, each with its own port; the test takes them away
    one by one. The system-wide file is moved into tmp_path (the test may not touch /etc)."""
    work = tmp_path / "work"
    files = {
        "variable": write(tmp_path / "named.toml", 9001),
        "cwd": write(work / "nursery.toml", 9002),
        "user": write(tmp_path / "xdg/nursery-monitor/nursery.toml", 9003),
        "system": write(tmp_path / "etc/nursery-monitor/nursery.toml", 9004),
    }
    clean_env.setenv("NURSERY_CONFIG", str(files["variable"]))
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    clean_env.setattr(config_file, "SYSTEM_CONFIG", files["system"])
    clean_env.chdir(work)
    return files


def test_each_step_of_the_order_in_turn(
    places: dict[str, Path], clean_env: pytest.MonkeyPatch
) -> None:
    assert load_settings().hub.http_port == 9001  # NURSERY_CONFIG first
    clean_env.delenv("NURSERY_CONFIG")
    assert load_settings().hub.http_port == 9002  # then ./nursery.toml
    places["cwd"].unlink()
    assert load_settings().hub.http_port == 9003  # then $XDG_CONFIG_HOME/nursery-monitor/
    places["user"].unlink()
    assert load_settings().hub.http_port == 9004  # then /etc/nursery-monitor/
    places["system"].unlink()
    assert find_config().path is None
    assert load_settings().hub.http_port == 8000  # nothing found: the defaults


def test_config_option_beats_everything(places: dict[str, Path], tmp_path: Path) -> None:
    mine = write(tmp_path / "mine.toml", 9005)
    assert load_settings(mine).hub.http_port == 9005


def test_without_xdg_config_home_the_users_file_is_under_home(
    places: dict[str, Path], clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.delenv("NURSERY_CONFIG")
    places["cwd"].unlink()
    clean_env.delenv("XDG_CONFIG_HOME")
    clean_env.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home/.config/nursery-monitor/nursery.toml", 9006)
    assert load_settings().hub.http_port == 9006
    clean_env.setenv("XDG_CONFIG_HOME", "relative/dir")  # ignored, as the XDG spec says
    assert load_settings().hub.http_port == 9006


def test_a_named_file_that_is_missing_is_an_error_not_the_defaults(
    places: dict[str, Path], clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("NURSERY_CONFIG", str(tmp_path / "typo.toml"))
    with pytest.raises(SettingsError, match=r"^NURSERY_CONFIG=.*typo\.toml: no such file$"):
        load_settings()


@pytest.mark.slow
def test_admin_command_finds_the_users_file_and_help_names_it(tmp_path: Path) -> None:
    """`nursery adduser` with no --config writes into the hub.db the user's nursery.toml
    names, and `nursery --help` says that file is the one read."""
    config = tmp_path / "xdg/nursery-monitor/nursery.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[hub]\ndb = "{tmp_path / "from-xdg.db"}"\n')
    work = tmp_path / "work"
    work.mkdir()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = nursery(work, "adduser", "sam", input="a long password\n", **env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-xdg.db").is_file()
    assert not (work / "hub.db").exists()

    help_text = nursery(work, "--help", **env).stdout
    assert f"Settings: read from {config} (from your config directory)" in " ".join(
        help_text.split()
    )
    assert str(config) in help_text  # whole, on one line: a path to copy


def test_help_says_when_no_file_was_found(tmp_path: Path) -> None:
    result = nursery(tmp_path, "--help", XDG_CONFIG_HOME=str(tmp_path / "none"))
    help_text = " ".join(result.stdout.split())
    assert "Settings: no nursery.toml found" in help_text
    assert "the defaults and NURSERY_* variables apply" in help_text


def test_nursery_config_is_not_refused_as_an_unknown_setting(tmp_path: Path) -> None:
    config = write(tmp_path / "site.toml", 9007)
    result = nursery(
        tmp_path,
        "token",
        "--list",
        NURSERY_CONFIG=str(config),
        NURSERY_HUB__DB=str(tmp_path / "hub.db"),
    )
    assert "unknown setting" not in result.stderr
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_a_file_this_user_may_not_read_is_named_not_skipped() -> None:
    """An installed hub's nursery.toml is 0600, its user's: help says so, and a command
    names the file and who may read it instead of running on the defaults."""
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: try it as nobody
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop to nobody")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    home = Path(tempfile.mkdtemp(prefix="nursery-config-"))  # /tmp: anyone may reach it
    try:
        home.chmod(0o755)
        config = home / "nursery-monitor/nursery.toml"
        config.parent.mkdir(mode=0o755)
        config.write_text("[hub]\n")
        config.chmod(0o600)
        env = settings_env(XDG_CONFIG_HOME=str(home), PYTHONPATH=str(ROOT))
        code = "import sys\nfrom nursery.cli import main\nsys.exit(main(sys.argv[1:]))"

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*prefix, sys.executable, "-c", code, *args],
                cwd="/",
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        help_text = " ".join(run("--help").stdout.split())
        assert (
            f"{config} (from your config directory) is there, but this user may not read it"
            in help_text
        )
        listing = run("token", "--list")
        assert listing.returncode == 2
        assert f"{config}: cannot read: Permission denied; run the command as" in listing.stderr
    finally:
        shutil.rmtree(home)
