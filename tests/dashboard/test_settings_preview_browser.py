"""The settings page's "what if" in a real browser (headless Debian Chromium at phone
size, the real hub on a real Mosquitto): typing a threshold shows what the last 7 days
would have paged with it before anything is saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.support import Mosquitto, StartHub, hub_settings
from tests.support.browser import Phone, assert_only_the_hub
from tests.support.replay import REPLAY_DATA, store_trace


def test_typing_a_threshold_previews_the_pushes_the_last_week_would_have_sent(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: StartHub,
    phone: Callable[..., Phone],
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    store_trace(
        settings.hub.db, REPLAY_DATA / "cold-night.csv", datetime.now(UTC) - timedelta(days=2)
    )
    hub = start_hub(settings)
    tab = phone()
    page = tab.open(hub)
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    cold = page.locator('form.st-threshold[data-key="cold_below_c"]')
    preview = cold.locator(".st-th-preview")
    expect(preview).to_be_hidden()

    cold.locator("input").fill("15")
    sentence = re.compile(
        r"With these settings, the last 7 days would have sent \d+ pushes instead of \d+\."
    )
    expect(preview).to_be_visible(timeout=20000)
    expect(preview.locator(".st-preview-sentence")).to_have_text(sentence)
    expect(preview.locator("li").first).to_contain_text("Room is a little cool")
    assert hub.get("/api/settings").json()["thresholds"]["cold_below_c"]["source"] == "preset"

    cold.locator("input").fill("16")  # back to the value in force: nothing to preview
    expect(preview).to_be_hidden()
    assert tab.errors == []
    assert_only_the_hub(tab, hub)
