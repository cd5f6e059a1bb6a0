// A room's history from the hub: the day kept live reading by reading, a week or a year
// from the hourly rollups, and the episodes logged in that time; and the range switch.

import { send } from "../api.js";
import { drawCharts } from "./charts.js";
import { RANGES, SPAN_MS, page, serverNow } from "./state.js";

const RESYNC_MS = 10 * 60 * 1000; // refetch the whole day now and then (late, replayed readings)
const MAX_POINTS = 1000;
const LONG_RETRY_MS = 15 * 1000; // after a failed fetch
const EPISODES_REFRESH_MS = 60 * 1000;
const EPISODES_ABSENT_MS = 10 * 60 * 1000; // no episode log on this hub (404) or no access (401)

// A history answer as chart points: each drawn at the middle of its stretch, never
// before the window nor after the newest reading (the current hour or day is partial).
function historyPoints(body) {
  const half = body.bucket_s * 500;
  const lo = Date.parse(body.since);
  const hi = body.newest ? Date.parse(body.newest) : Date.parse(body.until);
  return body.points.map((p) => {
    const start = Date.parse(p.ts);
    return {
      t: Math.min(hi, Math.max(lo, start + half)),
      start,
      bucketMs: body.bucket_s * 1000,
      ts: p.ts,
      temp: p.temperature_c.mean,
      tMin: p.temperature_c.min,
      tMax: p.temperature_c.max,
      hum: p.humidity_pct.mean,
      hMin: p.humidity_pct.min,
      hMax: p.humidity_pct.max,
    };
  });
}

function readingPoint(p) {
  const t = Date.parse(p.ts);
  const temp = p.temperature_c;
  const hum = p.humidity_pct;
  return { t, start: t, bucketMs: 0, ts: p.ts, temp, tMin: temp, tMax: temp, hum, hMin: hum, hMax: hum };
}

function historyUrl(view, range) {
  const params = new URLSearchParams({ range });
  if (range === "1y") params.set("tz", page.timeZone);
  return `/api/rooms/${encodeURIComponent(view.name)}/history?${params}`;
}

async function getHistory(view, range) {
  let res = await send(historyUrl(view, range));
  if (res.status === 422 && range === "1y" && page.timeZone !== "UTC") {
    page.timeZone = "UTC"; // the hub does not know this phone's zone: days in UTC then
    res = await send(historyUrl(view, range));
  }
  if (!res.ok) throw new Error(`history ${range}: HTTP ${res.status}`);
  return res.json();
}

// Loads what is fetched now and then (a week, a year, the episodes): one load at a time,
// after a failure again sooner than after a success.
async function refreshing(state, load) {
  state.loading = true;
  try {
    await load();
  } catch (err) {
    state.retryMs = LONG_RETRY_MS;
    console.warn("nursery dashboard:", err);
  } finally {
    state.at = performance.now();
    state.loading = false;
  }
}

/** The day: all of it from the history now and then, new readings one by one between. */
export async function syncSeries(view) {
  if (view.syncing) return;
  const latest = view.data.latest;
  const latestT = latest ? Date.parse(latest.ts) : null;
  const lastT = view.points.length ? view.points.at(-1).t : null;
  const full = !view.synced || performance.now() - view.syncedAt > RESYNC_MS;
  if (!full && (latestT === null || (lastT !== null && latestT <= lastT))) return;
  if (latestT === null) {
    view.synced = true;
    view.syncedAt = performance.now();
    drawCharts(view);
    return;
  }
  view.syncing = true;
  try {
    if (full || !view.lastTs) {
      const body = await getHistory(view, "24h");
      view.points = historyPoints(body);
      view.source = body.source;
      view.lastTs = body.newest;
      view.synced = true;
      view.syncedAt = performance.now();
    } else {
      const params = new URLSearchParams({ max_points: String(MAX_POINTS), since: view.lastTs });
      const res = await send(`/api/rooms/${encodeURIComponent(view.name)}/readings?${params}`);
      if (!res.ok) throw new Error(`readings: HTTP ${res.status}`);
      const body = await res.json();
      const after = view.points.length ? view.points.at(-1).t : -Infinity;
      for (const p of body.points.map(readingPoint)) if (p.t > after) view.points.push(p);
      if (view.points.length) view.lastTs = view.points.at(-1).ts;
    }
    const cutoff = serverNow() - SPAN_MS;
    const firstKept = view.points.findIndex((p) => p.t >= cutoff);
    view.points = firstKept < 0 ? [] : view.points.slice(firstKept);
    if (view.range === "24h") drawCharts(view);
  } catch (err) {
    console.warn("nursery dashboard:", err); // the next poll tries again
  } finally {
    view.syncing = false;
  }
}

/** A week or a year, from the rollups: fetched when shown, again when it gets old. */
export async function syncLong(view) {
  const range = view.range;
  if (range === "24h") return;
  const state = view.long[range] || (view.long[range] = { loaded: false, loading: false, points: [], alerts: [], at: 0, retryMs: 0 });
  if (state.loading || performance.now() - state.at < state.retryMs) return;
  await refreshing(state, async () => {
    const body = await getHistory(view, range);
    Object.assign(state, {
      loaded: true,
      points: historyPoints(body),
      alerts: body.alerts,
      since: Date.parse(body.since),
      until: Date.parse(body.until),
      source: body.source,
      retryMs: RANGES[range].refreshMs,
    });
  });
  if (view.range === range) drawCharts(view);
}

/** Episodes from the episode log (GET /api/episodes), one marker each. While the hub has
 * no such endpoint or this login may not read it (404, 401), the chart has no markers. */
export async function syncEpisodes(view) {
  const range = view.range;
  const state = view.episodes[range] || (view.episodes[range] = { items: [], loading: false, at: 0, retryMs: 0 });
  if (state.loading || performance.now() - state.at < state.retryMs) return;
  if (performance.now() < page.episodesAbsentUntil) return;
  const until = serverNow();
  const since = until - RANGES[range].spanMs - 24 * 3600 * 1000; // a 1 y chart starts at a midnight
  const params = new URLSearchParams({
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    room: view.name,
  });
  let changed = false;
  await refreshing(state, async () => {
    const res = await send(`/api/episodes?${params}`);
    if (res.status === 404 || res.status === 401) {
      page.episodesAbsentUntil = performance.now() + EPISODES_ABSENT_MS;
      changed = state.items.length > 0;
      state.items = [];
    } else if (!res.ok) {
      throw new Error(`episodes: HTTP ${res.status}`);
    } else {
      const body = await res.json();
      const list = Array.isArray(body) ? body : body.items || body.episodes || [];
      const items = list.filter((e) => e && e.started_at && (!e.room || e.room === view.name));
      changed = JSON.stringify(items) !== JSON.stringify(state.items);
      state.items = items;
    }
    state.retryMs = EPISODES_REFRESH_MS;
  });
  if (changed && view.range === range) drawCharts(view);
}

function setRange(view, range) {
  if (!RANGES[range] || view.range === range) return;
  view.range = range;
  view.cursorT = null;
  drawCharts(view);
  if (range !== "24h") syncLong(view);
  syncEpisodes(view);
}

export function attachRangeSwitch(view) {
  for (const button of view.nodes.rangeButtons) {
    button.addEventListener("click", () => setRange(view, button.dataset.range));
  }
}
