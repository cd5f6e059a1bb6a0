"""`nursery replay FILE`: recorded readings through the live hub's rules and alert
lifecycle, with the current settings or others, side by side with --compare; docs/replay.md."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from hub.messages.replay import alert_lines, compare_lines, summary_lines
from hub.replay.engine import Replay
from hub.replay.parts import ReplaySetup, default_jobs, replay_file
from hub.replay.report import replay_json, summarize
from hub.replay.sources import ReplayFileError, SourceOptions
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import SettingsError
from nursery.config import Settings
from nursery.progress import Progress, wanted


def _dashboard_choices(settings: Settings) -> RulesSettings:
    """The rules in force on the hub: the thresholds chosen on the dashboard on top of the
    configuration, read from hub.db read-only when there is one."""
    from hub.preferences import EDITABLE, PreferenceError, effective_rules
    from hub.store.dbfile import connect_read_only

    try:
        db = connect_read_only(settings.hub.db)
    except (OSError, sqlite3.Error):
        return settings.rules
    try:
        rows = db.execute("SELECT key, value FROM preferences").fetchall()
        chosen = {str(k): json.loads(v) for k, v in rows if k in EDITABLE and k != "unit"}
        return effective_rules(settings.rules, chosen)
    except (sqlite3.Error, PreferenceError, ValueError):
        return settings.rules
    finally:
        db.close()


def _changed(settings: Settings, preset: str | None, sets: list[str]) -> Settings:
    """`settings` with --preset and each --set applied, checked as nursery.toml is."""
    values = settings.model_dump()
    if preset is not None:
        values["rules"]["preset"] = preset
    for item in sets:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in values or name not in values[section]:
            raise SettingsError(f"--set {item}: give SECTION.KEY=VALUE, like rules.cold_below_c=17")
        values[section][name] = json.loads(text) if text[:1] in '[{"' else text.strip()
    try:
        return Settings.model_validate(values)
    except ValueError as exc:
        raise SettingsError(f"--set: {exc}") from None


def _run_one(settings: Settings, rules: RulesSettings, args: argparse.Namespace) -> Replay:
    options = SourceOptions(args.room, args.temperature_entity, args.humidity_entity)
    show = wanted(args.progress)
    bar = Progress(f"replaying {args.file.name}", _lines(args.file) if show else None, show=show)
    try:
        return replay_file(
            args.file,
            ReplaySetup(rules, settings.alerts, options=options),
            jobs=args.jobs or default_jobs(),
            progress=bar.update,
        )
    finally:
        bar.close()


def _lines(path: Path) -> int | None:
    """The file's lines, counted in binary blocks (a year at 10 s in well under a second),
    so the progress bar knows its end; None when the file cannot be read."""
    try:
        with path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    current = settings.model_copy(update={"rules": _dashboard_choices(settings)})
    try:
        other = _changed(current, args.preset, args.set)
    except SettingsError as exc:
        print(f"nursery replay: {exc}", file=sys.stderr)
        return 2
    if args.compare and args.preset is None and not args.set:
        print("nursery replay: --compare needs --preset or --set to compare with", file=sys.stderr)
        return 2
    try:
        runs = [_run_one(current, current.rules, args)] if args.compare else []
        runs.append(_run_one(other, other.rules, args))
    except (ReplayFileError, ValueError) as exc:
        print(f"nursery replay: {exc}", file=sys.stderr)
        return 1
    summaries = [summarize(run) for run in runs]
    if args.json:
        documents = [replay_json(r, s) for r, s in zip(runs, summaries, strict=True)]
        out = {"current": documents[0], "changed": documents[1]} if args.compare else documents[0]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for run in runs[-1:]:
        for alert in run.alerts:
            print("\n".join(alert_lines(alert)))
    print()
    print("\n".join(summary_lines(summaries[-1])))
    if args.compare:
        changes = ([f"preset {args.preset}"] if args.preset else []) + list(args.set)
        print()
        print("\n".join(compare_lines(("now", "changed"), (summaries[0], summaries[1]), changes)))
    return 0
