"""The container's files agree: the Containerfile and scripts/build-image give the image the
same settings, and every compose file keeps one volume, never root, and the health check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

CONTAINER = ROOT / "container"
HEALTH = ["nursery-container", "health"]


def test_the_containerfile_ends_with_image_conf_line_for_line() -> None:
    """scripts/build-image hands image.conf to `podman import`; the Containerfile says the
    same, so the two ways of building make the same image."""
    settings = (CONTAINER / "image.conf").read_text().splitlines()
    lines = (CONTAINER / "Containerfile").read_text().splitlines()
    start = lines.index(settings[0])
    assert lines[start : start + len(settings)] == settings
    health = lines[start + len(settings)]
    assert health.startswith("HEALTHCHECK ") and health.endswith(f"CMD {json.dumps(HEALTH)}")
    user = next(line for line in settings if line.startswith("USER "))
    assert user == "USER 10001:10001"


@pytest.mark.parametrize("name", ["compose.yaml", "compose.external-broker.yaml"])
def test_a_compose_file_keeps_one_volume_and_checks_health(name: str) -> None:
    compose: dict[str, Any] = yaml.safe_load((CONTAINER / name).read_text())
    hub = compose["services"]["hub"]
    assert hub["healthcheck"]["test"] == ["CMD", *HEALTH]
    assert [volume.split(":")[1].split(" ")[0] for volume in hub["volumes"]] == ["/data"]
    assert "user" not in hub  # the image's own user, uid 10001
    assert hub["restart"] == "unless-stopped"
    assert "8000:8000" in hub["ports"]
    assert ("1883:1883" in hub["ports"]) == ("--with-mosquitto" in hub["command"])


def test_the_docs_name_every_container_file() -> None:
    docs = (ROOT / "docs" / "container.md").read_text()
    for path in sorted(CONTAINER.iterdir()):
        assert f"container/{path.name}" in docs, path
    assert "docs/container.md" in (ROOT / "README.md").read_text()


def test_build_image_runs_the_script_the_containerfile_runs() -> None:
    script = (ROOT / "scripts" / "build-image").read_text()
    assert "container/setup-rootfs.sh" in script and "container/image.conf" in script
    assert "setup-rootfs.sh" in Path(CONTAINER / "Containerfile").read_text()


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
@pytest.mark.parametrize("script", ["scripts/build-image", "container/setup-rootfs.sh"])
def test_shellcheck(script: str) -> None:
    checked = subprocess.run(
        ["shellcheck", str(ROOT / script)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout
