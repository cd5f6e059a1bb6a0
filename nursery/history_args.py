"""The `export` and `replay` commands' arguments, apart from their code, so `nursery --help`
and a firmware-only Pi load none of the hub's modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any


def moment(text: str) -> datetime:
    """An ISO date or date and time; without a zone, the local one."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time like 2026-01-31 or 2026-01-31T22:00"
        ) from None
    return value if value.tzinfo is not None else value.astimezone()


def add_export_parser(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    export = commands.add_parser(
        "export",
        help="write every room's readings and alerts to a JSON Lines or CSV file",
        description="Write the hub's history (every room's readings and alerts; the episode "
        "log only with --episodes) as JSON Lines or CSV, to --out or stdout. Reads hub.db "
        "read-only: safe while the hub runs. The format is in docs/export.md; "
        "`nursery replay` reads it back.",
    )
    add_common(export)
    export.add_argument(
        "--format", choices=["jsonl", "csv"], default="jsonl", help="default: jsonl (JSON Lines)"
    )
    export.add_argument("--room", metavar="ROOM", help="only this room (default: all)")
    export.add_argument("--since", type=moment, metavar="TIME", help="from this date or time")
    export.add_argument("--until", type=moment, metavar="TIME", help="before this date or time")
    export.add_argument(
        "--episodes",
        action="store_true",
        help="include the episode log (health data: the file is made 0600, and you are warned)",
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    export.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a terminal"
    )


def add_replay_parser(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    replay = commands.add_parser(
        "replay",
        help="what if: run recorded readings through the alert rules, with other settings",
        description="Run the readings in FILE (a `nursery export`, a Home Assistant history "
        "CSV, or a CSV with ts,temperature_c,humidity_pct) through the hub's own rules and "
        "alert lifecycle, and print each alert that would have opened, repeated, escalated "
        "and cleared, with the pushes' words, and the pushes and cold minutes per night. "
        "Settings: the current ones (--config, and thresholds chosen on the dashboard), "
        "changed by --preset and --set; --compare shows the current ones beside the changed.",
    )
    add_common(replay)
    replay.add_argument(
        "file", type=Path, metavar="FILE", help="the readings (the format is told from line 1)"
    )
    replay.add_argument("--preset", choices=["uk", "who", "us"], help="another guidance preset")
    replay.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="another value for a setting, e.g. rules.cold_below_c=17 (repeatable)",
    )
    replay.add_argument(
        "--compare",
        action="store_true",
        help="replay twice: the current settings beside the ones --preset/--set give",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON document")
    replay.add_argument(
        "--room", default="nursery", help="room name for files without one (default: nursery)"
    )
    replay.add_argument(
        "--temperature-entity",
        metavar="ENTITY",
        help="in a Home Assistant file, the temperature's entity id (default: the one "
        "whose id contains 'temp')",
    )
    replay.add_argument(
        "--humidity-entity",
        metavar="ENTITY",
        help="in a Home Assistant file, the humidity's entity id (default: the one whose "
        "id contains 'humid')",
    )
    replay.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a terminal"
    )
    replay.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="processes for a long file (default: one per core, at most 4); any N gives "
        "the same result",
    )


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value
