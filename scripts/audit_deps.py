#!/usr/bin/env python3
"""Check the project's installed dependencies for known vulnerabilities with pip-audit.

What is audited: nursery-monitor's dependency closure with its `test` and `demo` extras,
pinned to the versions installed in this environment (the "lock" CI runs with), not the
virtualenv's own pip and setuptools. pip-audit asks PyPI about each release
(`/pypi/NAME/VERSION/json`).

Never a silent pass:
- a known vulnerability fails, with its id and the versions that fix it;
- a release pip-audit could not ask about (an index proxy that serves only
  `/pypi/NAME/json`) is checked there instead when it is the latest release, since that
  page lists the latest release's vulnerabilities; one still unaudited after that is
  listed by name, loudly;
- when neither answers at all (no network), it fails: nothing was audited.

Usage: scripts/audit_deps.py [PYTHON]  (default: this interpreter, e.g. .venv/bin/python)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "nursery-monitor"
EXTRAS = ("test", "demo")
PYPI_PROJECT_URL = "https://pypi.org/pypi/{name}/json"
TIMEOUT_S = 30


def closure(project: str = PROJECT, extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """name -> installed version of every distribution the project needs, transitively."""
    pinned: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(project, extras)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform
        key = canonicalize_name(name)
        if key != canonicalize_name(project):
            pinned[key] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            envs = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(e) for e in envs):
                todo.append((requirement.name, tuple(sorted(requirement.extras))))
    return pinned


def run_pip_audit(python: str, pinned: dict[str, str]) -> dict[str, Any] | None:
    """pip-audit's JSON report, or None when it could not produce one."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "pinned.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pinned.items())))
        result = subprocess.run(
            [
                *(python, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps"),
                *("--disable-pip", "--progress-spinner", "off", "--format", "json"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit gave no report:\n{result.stderr.strip()[-2000:]}")
        return None
    return report


def latest_release_vulns(name: str, version: str) -> list[str] | None:
    """Ids of the vulnerabilities PyPI lists for `name` when `version` is its latest
    release; None when it is not (that page says nothing about older releases)."""
    url = PYPI_PROJECT_URL.format(name=name)  # https, a constant host
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:  # noqa: S310
        page = json.load(reply)
    if page["info"]["version"] != version:
        return None
    return [str(vuln["id"]) for vuln in page.get("vulnerabilities") or []]


def _ask_pypi(item: tuple[str, str]) -> list[str] | Exception | None:
    try:
        return latest_release_vulns(*item)
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        return exc


def main() -> int:
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    pinned = closure()
    report = run_pip_audit(python, pinned)
    found: list[str] = []
    unasked: dict[str, str] = dict(pinned) if report is None else {}
    audited = 0
    for dep in report.get("dependencies", []) if report else []:
        name, version = dep["name"], dep.get("version", pinned.get(dep["name"], "?"))
        if "skip_reason" in dep:
            unasked[name] = version
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            found.append(f"{name} {version}: {vuln['id']} (fixed in {fixes})")
    unaudited: list[str] = []
    reached_pypi = False
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(_ask_pypi, sorted(unasked.items()))
    for (name, version), vulns in zip(sorted(unasked.items()), answers, strict=True):
        if isinstance(vulns, Exception):
            unaudited.append(f"{name} {version} ({vulns})")
            continue
        reached_pypi = True
        if vulns is None:
            unaudited.append(f"{name} {version} (not its latest release)")
            continue
        audited += 1
        found += [f"{name} {version}: {vuln} (upgrade to a fixed release)" for vuln in vulns]
    if found:
        print("audit: FAILED: known vulnerabilities in the installed dependencies:")
        print("\n".join(f"  {line}" for line in found))
        return 1
    if audited == 0 or (report is None and not reached_pypi):
        print(
            "audit: FAILED: could not reach PyPI's vulnerability data, so no dependency was "
            "audited. Run it with network access (CI has it)."
        )
        print("\n".join(f"  {line}" for line in unaudited[:10]))
        return 1
    print(f"audit: no known vulnerabilities in {audited} of {len(pinned)} dependencies")
    if unaudited:
        print(f"audit: WARNING: NOT AUDITED ({len(unaudited)}): PyPI did not answer for:")
        print("\n".join(f"  {line}" for line in unaudited))
    return 0


if __name__ == "__main__":
    sys.exit(main())
