"""What each role's venv takes on a Raspberry Pi's SD card (arm64): a firmware-only Pi's
`[firmware,pi]` next to the hub's `[hub,pi]`, from the aarch64 wheels pip would pick.

For each role, `pip install --target` puts this checkout's wheel with the role's extras
(as scripts/install-pi names them, with constraints.txt) into an empty directory, taking
only wheels for Linux on aarch64 (glibc 2.36, Raspberry Pi OS Bookworm) and this Python
version, and compiling the bytecode as pip does on the Pi; the figure is that directory
plus an empty venv made here (`python -m venv --without-pip`, as the installer makes it),
counted in disk blocks like `du`. A requirement with no such wheel is left out and named
(lgpio has none for Python 3.13: it builds from source there). Needs the package index (or
pip's cache). Prints one table and exits 0 whatever the verdict (2 when it cannot run).
Run `python bench/venv_size.py --help`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import BenchError, machine, write_summary

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "nursery-monitor"
GOAL_MIB = 40.0  # issue #19: a firmware-only Pi's venv under 40 MB
# Raspberry Pi OS Bookworm (64-bit) has glibc 2.36: every manylinux tag up to it fits.
PLATFORMS = (
    "manylinux2014_aarch64",
    *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)),
    "linux_aarch64",
)
FIRMWARE = ("firmware", "pi")
HUB_WITH_SENSOR = ("hub", "pi")
MORE_ROLES = (("hub",), ("firmware", "hub", "pi"))  # not in --quick
_NO_WHEEL = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class Install:
    extras: tuple[str, ...]
    bytes: int
    left_out: tuple[str, ...]
    largest: list[tuple[str, int]]

    @property
    def label(self) -> str:
        return f"[{','.join(self.extras)}]"

    @property
    def mib(self) -> float:
        return self.bytes / 2**20


def requirements(extras: Iterable[str]) -> list[str]:
    """The requirement lines pyproject.toml gives these extras, our own extras expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    found: list[str] = []
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            own = re.fullmatch(rf"{PROJECT}\[([^\]]+)\]", line.replace(" ", ""))
            if own:
                todo.extend(own.group(1).split(","))
            else:
                found.append(line)
    return found


def disk_usage(path: Path) -> int:
    """Bytes of disk blocks under `path`, each hard-linked file once (as `du` counts)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in [".", *files]:
            stat = (Path(directory) / name).lstat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def build_wheel(workdir: Path) -> Path:
    done = _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(workdir), str(ROOT))
    wheels = list(workdir.glob("nursery_monitor-*.whl"))
    if done.returncode != 0 or not wheels:
        raise BenchError(f"could not build this checkout's wheel: {done.stderr.strip()[-300:]}")
    return wheels[0]


def install(wheel: Path, extras: Sequence[str], python: str, target: Path) -> Install:
    """The role's install into `target`, leaving out what has no wheel for the Pi."""
    platform_args = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
    left_out: list[str] = []
    wanted = requirements(extras)
    while True:
        lines = [r for r in wanted if not any(r.startswith(name) for name in left_out)]
        done = _pip(
            "install",
            "--quiet",
            "--target",
            str(target),
            *platform_args,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            "--constraint",
            str(ROOT / "constraints.txt"),
            str(wheel),
            *lines,
        )
        if done.returncode == 0:
            break
        missing = _NO_WHEEL.search(done.stderr)
        if missing is None or missing.group(1) in left_out:
            raise BenchError(f"pip could not install {extras}: {done.stderr.strip()[-400:]}")
        left_out.append(missing.group(1))
        shutil.rmtree(target, ignore_errors=True)
    largest = sorted(
        ((entry.name, disk_usage(entry)) for entry in target.iterdir() if entry.is_dir()),
        key=lambda pair: -pair[1],
    )[:6]
    return Install(tuple(extras), disk_usage(target), tuple(left_out), largest)


def empty_venv(workdir: Path) -> int:
    """An empty venv, as scripts/install-pi makes it (no pip of its own)."""
    venv = workdir / "empty-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return disk_usage(venv)


def render(
    info: dict[str, str], python: str, skeleton: int, installs: list[Install], took_s: float
) -> str:
    rows: list[tuple[str, ...]] = []
    firmware, hub = installs[0], installs[1]
    for item in installs:
        venv_mib = item.mib + skeleton / 2**20
        judged = item is firmware
        rows.append(
            (
                f"{item.label} venv" + (" (firmware-only Pi)" if judged else ""),
                f"{venv_mib:.1f} MiB",
                f"{hub.label} {hub.mib + skeleton / 2**20:.0f} MiB" if judged else "",
                f"{item.bytes / hub.bytes:.2f}" if judged else "",
                f"< {GOAL_MIB:.0f} MiB" if judged else "",
                ("PASS" if venv_mib < GOAL_MIB else "FAIL") if judged else "",
            )
        )
        if item.left_out:
            rows.append(
                (f"  left out: no wheel for CPython {python}", ", ".join(item.left_out), *[""] * 4)
            )
    headers = ("metric", "value", "reference", "ratio", "target", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [
        "nursery-monitor: venv size on a Raspberry Pi (arm64)",
        f"date    {info['date']}",
        f"machine {info['cpu']}, {info['os']} (measuring for aarch64, CPython {python})",
        "",
        line(headers),
        line(["-" * w for w in widths]),
        *(line(r) for r in rows),
        "",
        "each: pip install --target with aarch64 wheels (manylinux up to glibc 2.36) and "
        f"constraints.txt, bytecode compiled, plus an empty venv ({skeleton / 2**20:.1f} MiB); "
        "MiB of disk blocks, as du -sh counts",
    ]
    for item in installs[:2]:
        biggest = ", ".join(f"{name} {size / 2**20:.1f}" for name, size in item.largest)
        out.append(f"largest in {item.label} (MiB): {biggest}")
    out.append(f"run took {took_s:.0f} s")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python-version",
        default="3.11",
        help="the Pi's Python (default: 3.11, Raspberry Pi OS Bookworm; 3.13 is Trixie's)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"only {FIRMWARE} and {HUB_WITH_SENSOR}"
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="append the report to FILE (RESULTS.md)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the table as JSON (bench/run)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    info = machine()
    started = time.monotonic()
    roles = [FIRMWARE, HUB_WITH_SENSOR, *([] if args.quick else MORE_ROLES)]
    try:
        with tempfile.TemporaryDirectory(prefix="nursery-bench-venv-") as tmp:
            workdir = Path(tmp)
            wheel = build_wheel(workdir / "wheel")
            skeleton = empty_venv(workdir)
            installs = []
            for extras in roles:
                print(f"installing [{','.join(extras)}] for aarch64…", file=sys.stderr)
                target = workdir / "-".join(extras)
                installs.append(install(wheel, extras, args.python_version, target))
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        print(f"venv_size: cannot run: {exc}", file=sys.stderr)
        return 2
    report = render(info, args.python_version, skeleton, installs, time.monotonic() - started)
    print(report)
    if args.record:
        with args.record.open("a", encoding="utf-8") as out:
            out.write(f"\n## {info['date']}, {info['cpu']}: venv size\n\n```\n{report}\n```\n")
    if args.json:
        write_summary(args.json, "venv size", info, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
