// The nursery dashboard: polls the hub's JSON API and shows each room.
//
// Safety first: a room only looks calm while fresh readings arrive. A silent sensor,
// an offline monitor, a sensor fault or an unreachable hub each say so in words.

import { getJson } from "./js/api.js";
import { setUnit, unit } from "./js/format.js";
import { applyAlerts } from "./js/dashboard/alerts.js";
import { drawCharts } from "./js/dashboard/charts.js";
import { applyHealth, applyNotifyStatus, renderSummary } from "./js/dashboard/header.js";
import { syncEpisodes, syncLong, syncSeries } from "./js/dashboard/history.js";
import { renderRecent } from "./js/dashboard/recent.js";
import { createView, renderRoom } from "./js/dashboard/room-card.js";
import { hooks, page } from "./js/dashboard/state.js";

const POLL_MS = 3000;
const REDRAW_MS = 30 * 1000; // slide the time axis even when no reading arrives
const SETTINGS_REFRESH_MS = 60 * 1000; // °C/°F and the thresholds, changed on /settings
const SETTINGS_WAIT_MS = 3000; // at most this long before the first draw, in °C if need be

function learnHubClock(res, rooms) {
  for (const room of rooms) {
    if (room.last_seen && room.seconds_since_seen !== null) {
      return Date.parse(room.last_seen) + room.seconds_since_seen * 1000;
    }
  }
  const date = res.headers.get("Date");
  return date ? Date.parse(date) : Date.now();
}

function applyRooms(rooms, hubNow) {
  const list = document.getElementById("rooms");
  const seen = new Set();
  rooms.forEach((room, index) => {
    seen.add(room.room);
    let view = page.rooms.get(room.room);
    if (!view) {
      view = createView(room.room);
      page.rooms.set(room.room, view);
    }
    view.data = room;
    view.fetchedAt = performance.now();
    view.hubNowAtFetch = hubNow;
    if (list.children[index] !== view.card) {
      list.insertBefore(view.card, list.children[index] || null);
    }
    renderRoom(view);
    if (view.dirty || performance.now() - view.drawnAt > REDRAW_MS) drawCharts(view);
    syncSeries(view);
    syncLong(view);
    syncEpisodes(view);
  });
  for (const [name, view] of page.rooms) {
    if (!seen.has(name)) {
      view.card.remove();
      page.rooms.delete(name);
    }
  }
  document.getElementById("empty").hidden = rooms.length > 0;
}

function renderAll() {
  for (const view of page.rooms.values()) if (view.data) renderRoom(view);
  renderSummary();
  renderRecent();
}
hooks.renderAll = renderAll;

// °C/°F and the band from GET /api/settings. A change made on the settings page shows
// here within a minute, or at once when this page comes back to the front.
async function loadSettings() {
  page.settingsAt = performance.now();
  try {
    const { body } = await getJson("/api/settings");
    if (body.labels) page.alertLabels = body.labels;
    const t = body.thresholds;
    const cold = t.cold_below_c;
    const warm = t.warm_above_c;
    const fromPreset = cold.source === "preset" && warm.source === "preset";
    const next = {
      unit: body.unit === "F" ? "F" : "C",
      band: { lo: cold.value_c, hi: warm.value_c },
      bandFrom: fromPreset ? body.preset : "",
      roomNames: body.room_names || {},
    };
    const key = JSON.stringify(next);
    if (key === page.settingsKey) return;
    page.settingsKey = key;
    setUnit(next.unit);
    page.band = next.band;
    page.bandFrom = next.bandFrom;
    page.roomNames = next.roomNames;
    document.documentElement.dataset.unit = unit();
    for (const view of page.rooms.values()) {
      if (view.data) renderRoom(view);
      drawCharts(view);
    }
  } catch (err) {
    console.warn("nursery dashboard:", err); // keep the unit and band already in use
  }
}

async function poll() {
  if (page.polling) return;
  if (performance.now() - page.settingsAt > SETTINGS_REFRESH_MS) loadSettings();
  page.polling = true;
  clearTimeout(page.timer);
  try {
    const askedAt = performance.now();
    const [rooms, alerts, health, phones] = await Promise.allSettled([
      getJson("/api/rooms"),
      getJson("/api/alerts"),
      getJson("/healthz", [503]),
      getJson("/api/notify/status"),
    ]);
    if (phones.status === "fulfilled") applyNotifyStatus(phones.value.body);
    if (alerts.status === "fulfilled") applyAlerts(alerts.value.body, askedAt);
    else console.warn("nursery dashboard:", alerts.reason);
    if (health.status === "fulfilled") applyHealth(health.value.body);
    if (rooms.status === "rejected") throw rooms.reason;
    const hubNow = learnHubClock(rooms.value.res, rooms.value.body);
    page.serverOffsetMs = hubNow - Date.now();
    page.reachable = true;
    page.lastOkAt = performance.now();
    applyRooms(rooms.value.body, hubNow);
  } catch (err) {
    page.reachable = false;
    console.warn("nursery dashboard:", err);
  } finally {
    page.polling = false;
  }
  renderSummary();
  renderRecent();
  page.timer = setTimeout(poll, POLL_MS);
}

async function start() {
  // The first draw waits (briefly) for the unit, so a °F home never sees °C flash by.
  await Promise.race([loadSettings(), new Promise((resolve) => setTimeout(resolve, SETTINGS_WAIT_MS))]);
  poll();
  setInterval(renderAll, 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    loadSettings();
    poll();
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const view of page.rooms.values()) drawCharts(view);
    }, 150);
  });
}

start();
