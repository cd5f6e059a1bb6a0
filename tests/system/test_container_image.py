"""The hub's container image, built from Debian's packages by scripts/build-image and run
by podman: a non-root user, one volume, a passing health check, and a Pi's reading stored."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.support.container import PiLogin
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.wait import wait_until

# The build takes about a minute and a half on an idle 2-core machine, far more on a busy one.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
MIRROR = "deb.debian.org"
# What a sandboxed CI machine needs to run a container (docs/container.md, "CI"): runc,
# since crun cannot use its hybrid cgroups, and limits no higher than the machine's own,
# since it may not raise them. Harmless elsewhere.
RUN_OPTIONS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "scripts/build-image needs root (debootstrap, chroot)"
    for tool in ("debootstrap", "podman"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman debootstrap runc)"
    try:
        socket.create_connection((MIRROR, 80), timeout=5).close()
    except OSError as exc:
        return f"Debian's mirror {MIRROR} is unreachable ({exc})"
    return None


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    runtime = ["--runtime", "runc"] if shutil.which("runc") else []
    return subprocess.run(
        ["podman", *runtime, *args], capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tag = f"localhost/nursery-monitor:test-{uuid.uuid4().hex[:8]}"
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), "--tag", tag],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    yield tag
    podman("rmi", "--force", tag, check=False)


def test_the_image_runs_as_its_own_user_with_one_volume(image: str) -> None:
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert list(config["Volumes"]) == ["/data"]
    assert config["Entrypoint"] == ["/usr/local/bin/nursery-container"]
    assert config["Cmd"] == ["hub"]
    refused = podman("run", "--rm", *RUN_OPTIONS, "--user", "0", image, check=False)
    assert refused.returncode == 2
    assert "refusing to run as root" in refused.stderr


def test_the_container_is_healthy_and_stores_a_pis_reading(image: str) -> None:
    name = f"nursery-test-{uuid.uuid4().hex[:8]}"
    http_port, mqtt_port = free_port(), free_port()
    base = f"nursery-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", name)
    try:
        podman(
            "run", "--detach", "--name", name, *RUN_OPTIONS,
            "--publish", f"127.0.0.1:{http_port}:8000",
            "--publish", f"127.0.0.1:{mqtt_port}:1883",
            "--volume", f"{name}:/data",
            "--env", f"NURSERY_MQTT__BASE_TOPIC={base}",
            "--health-cmd", '["nursery-container", "health"]',
            image, "hub", "--with-mosquitto",
        )  # fmt: skip
        wait_until(
            lambda: podman("healthcheck", "run", name, check=False).returncode == 0,
            timeout=60,
            what="a healthy container: " + podman("logs", name, check=False).stderr[-2000:],
        )
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"

        added = podman("exec", name, "nursery-container", "add-device", "nursery").stdout
        pi = PiLogin(mqtt_port, added, base, "nursery")
        try:
            pi.send_reading(16.5)
        except AssertionError as exc:
            pytest.fail(f"{exc}: " + podman("logs", name, check=False).stderr[-3000:])
        finally:
            pi.close()
        podman("stop", "--time", "20", name)
        state = json.loads(podman("inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 0, podman("logs", name, check=False).stderr[-2000:]
        files = podman(
            "run", "--rm", *RUN_OPTIONS, "--volume", f"{name}:/data", "--entrypoint", "ls",
            image, "-ln", "/data",
        ).stdout  # fmt: skip
        assert "-rw------- 1 10001 10001" in files and "nursery.db" in files, files
    finally:
        podman("rm", "--force", name, check=False)
        podman("volume", "rm", "--force", name, check=False)
