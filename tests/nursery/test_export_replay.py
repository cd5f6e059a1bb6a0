"""`nursery export` and `nursery replay` as a user types them: a hub database exported
read-only (0600), and the export replayed to the same alerts as the recording it holds."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta
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


def _episode(db: Path) -> None:
    from hub.episodes.model import Details, NewEpisode, Timing
    from hub.episodes.storage import EpisodeStore

    started = datetime.fromisoformat("2026-01-10T02:10:00+00:00")
    timing = Timing("nursery", started, started.replace(minute=11))
    episodes = EpisodeStore(db)
    try:
        new = NewEpisode(timing, Details(limbs=("arms",), notes="after the feed"))
        episodes.add(new, None, lambda others: timing, started)
    finally:
        episodes.close()


def test_episodes_go_out_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    _recorded_hub(db)
    _episode(db)
    plain = nursery(tmp_path, "export", NURSERY_HUB__DB=str(db))
    assert plain.returncode == 0, plain.stderr
    assert '"record": "episode"' not in plain.stdout and "after the feed" not in plain.stdout
    asked = nursery(tmp_path, "export", "--episodes", NURSERY_HUB__DB=str(db))
    episodes = [json.loads(x) for x in asked.stdout.splitlines() if '"episode"' in x]
    assert [(e["room"], e["started_at"], e["notes"]) for e in episodes] == [
        ("nursery", "2026-01-10T02:10:00Z", "after the feed")
    ]
    assert "health data" in asked.stderr


def test_export_keeps_to_a_room_and_a_window(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    _recorded_hub(db)
    done = nursery(
        tmp_path, "export", "--room", "nursery", "--since", "2026-01-10T01:00:00+00:00",
        "--until", "2026-01-10T02:00:00+00:00", NURSERY_HUB__DB=str(db),
    )  # fmt: skip
    readings = [json.loads(x) for x in done.stdout.splitlines()]
    assert len([r for r in readings if r["record"] == "reading"]) == 120
    assert readings[0]["ts"] == "2026-01-10T01:00:00Z"
    none = nursery(tmp_path, "export", "--room", "attic", NURSERY_HUB__DB=str(db))
    assert none.stdout == ""
    missing = nursery(tmp_path, "export", NURSERY_HUB__DB=str(tmp_path / "absent.db"))
    assert missing.returncode == 1 and "no hub database" in missing.stderr
    assert not (tmp_path / "absent.db").exists()


def test_a_home_assistant_history_replays_with_its_gaps(tmp_path: Path) -> None:
    """Home Assistant records changes only: a held value counts until the next change, and
    `unavailable` is silence, which pages as it would have live."""
    rows = ["entity_id,state,last_changed"]
    at = datetime.fromisoformat("2026-01-10T00:00:00+00:00")

    def row(entity: str, minute: float, state: str) -> None:
        stamp = (at + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
        rows.append(f"sensor.nursery_{entity},{state},{stamp}")

    for step in range(0, 160, 3):  # a real sensor wavers by a tenth now and then
        level = 18.2 if step < 30 else 15.4 if step < 70 else 18.4
        if not 70 <= step < 110:
            row("temperature", step, f"{level + (step % 2) / 10:.1f}")
            row("humidity", step + 1, f"{51 + step % 2}")
    row("temperature", 70, "unavailable")
    row("humidity", 70, "unavailable")
    trace = tmp_path / "history.csv"
    trace.write_text("\n".join(rows) + "\n")
    done = nursery(tmp_path, "replay", str(trace), "--json")
    assert done.returncode == 0, done.stderr
    alerts = json.loads(done.stdout)["alerts"]
    opened = {a["condition"]: (a["opened"][11:16], (a["resolved"] or "")[11:16]) for a in alerts}
    assert opened["cold"][0] == "00:36"  # the median of three, then 5 min below 16 °C
    # The last values before `unavailable` counted until 01:09, 5 min without one; readings
    # again once both sensors have a value (humidity at 01:52).
    assert opened["no_data"] == ("01:14", "01:52")
    assert "sensor_suspect" not in opened


def test_the_progress_bar_shows_only_when_asked_or_on_a_terminal(tmp_path: Path) -> None:
    trace = str(REPLAY_DATA / "three-nights.csv")
    quiet = nursery(tmp_path, "replay", trace)
    assert quiet.returncode == 0 and quiet.stderr == ""
    shown = nursery(tmp_path, "replay", trace, "--progress")
    assert "replaying three-nights.csv [" in shown.stderr
    assert "4,096/4,233" in shown.stderr
