"""A small real filesystem for a test to fill or to turn read-only: a tmpfs with a size
limit, or ext4 on a loop device that fails as a worn SD card does. Both need root."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs the tests as root)")


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where`, unmounted afterwards."""
    _need_root()
    where.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


@contextlib.contextmanager
def loop_ext4(image: Path, where: Path, size_mb: int = 16) -> Iterator[Path]:
    """ext4 on a loop device at `where`, mounted errors=remount-ro as Raspberry Pi OS
    mounts its root: a write error turns the whole filesystem read-only."""
    _need_root()
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed (e2fsprogs)")
    with image.open("wb") as file:
        file.truncate(size_mb * 1024 * 1024)
    made = _run("mkfs.ext4", "-q", "-F", str(image))
    if made.returncode != 0:
        pytest.skip(f"cannot make an ext4 image: {made.stderr.strip()}")
    where.mkdir(parents=True, exist_ok=True)
    if not mount_ext4(image, where):
        pytest.skip("cannot mount a loop device here (no /dev/loop*, or not permitted)")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def mount_ext4(image: Path, where: Path) -> bool:
    return _run("mount", "-o", "loop,errors=remount-ro", str(image), str(where)).returncode == 0


def remount_after_fsck(image: Path, where: Path) -> None:
    """What a parent's restart does for a card that went read-only: unmount, repair, mount."""
    assert _run("umount", str(where)).returncode == 0
    checked = _run("e2fsck", "-fy", str(image))
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr  # 1: errors fixed
    assert mount_ext4(image, where)


def fail_ext4(where: Path) -> None:
    """Report an error on the ext4 mounted at `where` through the kernel's own test hook:
    with errors=remount-ro it turns read-only at once, as after a failing write."""
    source = _run("findmnt", "-no", "SOURCE", str(where)).stdout.strip()
    hook = Path("/sys/fs/ext4") / Path(source).name / "trigger_fs_error"
    if not hook.exists():
        pytest.skip(f"this kernel has no {hook}")
    hook.write_text("nursery-monitor test: the SD card failed\n")
    options = _run("findmnt", "-no", "OPTIONS", str(where)).stdout
    assert options.startswith("ro") or "emergency_ro" in options, options


def fill(where: Path) -> Path:
    """Write one file until the filesystem has no space left; returns it."""
    filler = where / "filler.bin"
    chunk = b"\0" * (64 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]  # the last few blocks too
    finally:
        os.close(fd)
    return filler
