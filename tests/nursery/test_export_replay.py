"""`nursery export` and `nursery replay` as a user types them: a hub database exported
read-only (0600), and the export replayed to the same alerts as the recording it holds."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path

from contract.messages import ReadingMessage, new_boot_id
from hub.conditions import Condition, Incident
from hub.replay.report import alert_json
from hub.replay.sources import SourceOptions, read_readings
from hub.store.database import Received, Store
from tests.support.cli import nursery
from tests.support.replay import REPLAY_DATA, listing, replay_file


def _recorded_hub(db: Path) -> None:
    """A hub database holding the cold-night trace, as ingest stored it, and one alert."""
    boot = new_boot_id()
    rows = read_readings(REPLAY_DATA / "cold-night.csv", SourceOptions())
    with Store(db) as store:
        store.add_readings(
            Received(
                ReadingMessage("nursery", boot, seq, r.ts, r.temperature_c, r.humidity_pct),
                r.received_at,
            )
            for seq, (_, r) in enumerate(rows)
        )
        opened = datetime.fromisoformat("2026-01-10T01:28:00+00:00")
        store.save_incidents([Incident(None, "nursery", Condition.COLD, opened, opened)])


def test_export_writes_readings_and_alerts_privately_and_replay_reads_it_back(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    _recorded_hub(db)
    out = tmp_path / "night.jsonl"
    done = nursery(tmp_path, "export", "--out", str(out), NURSERY_HUB__DB=str(db))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    records = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds.count("reading") == 1440 and kinds.count("alert") == 1
    assert "episode" not in kinds and "health data" not in done.stderr
    assert records[0]["received_at"] == "2026-01-09T20:00:00Z"

    replayed = nursery(tmp_path, "replay", str(out), "--json", NURSERY_HUB__DB=str(db))
    assert replayed.returncode == 0, replayed.stderr
    document = json.loads(replayed.stdout)
    expected = (REPLAY_DATA / "cold-night.expected").read_text()
    body = "".join(line for line in expected.splitlines(True) if not line.startswith("#"))
    assert listing(document["alerts"]) == body
    assert document["summary"]["pushes"] == 15
    assert listing(document["alerts"]) == listing(
        [alert_json(a) for a in replay_file(REPLAY_DATA / "cold-night.csv").alerts]
    )


def test_export_with_episodes_warns_of_health_data_and_csv_replays_the_same(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    _recorded_hub(db)
    out = tmp_path / "night.csv"
    done = nursery(
        tmp_path, "export", "--format", "csv", "--episodes", "--out", str(out),
        NURSERY_HUB__DB=str(db),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "health data" in done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = nursery(tmp_path, "replay", str(out), NURSERY_HUB__DB=str(db))
    assert text.returncode == 0, text.stderr
    assert "room is cold (15.8 °C)" in text.stdout
    assert "15 pushes" in text.stdout


def test_replay_compare_puts_a_lower_cold_threshold_beside_the_current_one(
    tmp_path: Path,
) -> None:
    trace = str(REPLAY_DATA / "cold-night.csv")
    done = nursery(
        tmp_path, "replay", trace, "--compare", "--set", "rules.cold_below_c=15", "--json",
        NURSERY_HUB__DB=str(tmp_path / "none.db"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    both = json.loads(done.stdout)
    assert both["current"]["summary"]["pushes"] == 15
    assert both["changed"]["settings"]["cold_below_c"] == 15
    cold = [a for a in both["changed"]["alerts"] if a["condition"] == "cold"]
    assert cold == []  # 15.2 °C at the coldest: never below 15
    text = nursery(tmp_path, "replay", trace, "--compare", "--set", "rules.cold_below_c=15")
    assert "With changed (rules.cold_below_c=15) instead of now:" in text.stdout


def test_replay_names_a_bad_setting_and_a_bad_line(tmp_path: Path) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text("ts,temperature_c,humidity_pct\n2026-01-01T00:00:00Z,warm,50\n")
    bad_line = nursery(tmp_path, "replay", str(trace))
    assert bad_line.returncode == 1
    assert "line 2: temperature_c 'warm' is not a number" in bad_line.stderr
    bad_key = nursery(tmp_path, "replay", str(trace), "--set", "rules.cold_below=17")
    assert bad_key.returncode == 2
    assert "rules.cold_below=17" in bad_key.stderr
