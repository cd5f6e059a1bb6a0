// One room's card: the big number, where it sits against the comfortable band, the rows
// that say a sensor is silent or offline, and the charts below.
//
// Safety first: a room only looks calm while fresh readings arrive.

import { setText } from "../dom.js";
import { fmtDuration, fmtHumidity, fmtTemp, unitLabel } from "../format.js";
import { TEMPERATURE_STATES, renderAlerts, roomState, unresolvedAlerts } from "./alerts.js";
import { attachCursor } from "./charts.js";
import { attachRangeSwitch } from "./history.js";
import { displayName, elapsedSince, fmtClock, page } from "./state.js";

/** A room's card from the page's template, and what the page keeps about it. */
export function createView(name) {
  const template = document.getElementById("room-template");
  const card = template.content.firstElementChild.cloneNode(true);
  const q = (selector) => card.querySelector(selector);
  const view = {
    name,
    card,
    nodes: {
      name: q(".room-name"),
      badge: q(".badge"),
      badgeText: q(".badge-text"),
      alerts: q(".alerts"),
      temp: q(".temp"),
      tempLabel: q(".temp-label"),
      tempValue: q(".temp-value"),
      tempUnit: q(".temp .unit"),
      caption: q(".caption-text"),
      humidityValue: q(".humidity-value"),
      range: q(".range"),
      seen: q(".seen"),
      source: q(".source"),
      chartSpan: q(".chart-span"),
      plotTemp: q(".plot-temp"),
      plotHumidity: q(".plot-humidity"),
      readout: q(".readout"),
      chart: q(".chart"),
      rangeButtons: [...card.querySelectorAll(".range-btn")],
      legend: q(".legend"),
      keySpread: q(".key-spread"),
      keyAlert: q(".key-alert"),
      keyEpisode: q(".key-episode"),
    },
    data: null, // the room as /api/rooms last described it
    fetchedAt: 0, // performance.now() when data arrived
    hubNowAtFetch: 0, // the hub's clock at that moment (ms since epoch)
    points: [], // the day: [{t, start, bucketMs, temp, tMin, tMax, hum, hMin, hMax}], oldest first
    source: "readings", // where the day's points came from (GET …/history's `source`)
    range: "24h", // what the chart shows: 24h, 7d or 1y
    long: {}, // range -> {loaded, points, alerts, since, until, source, …} for 7d and 1y
    episodes: {}, // range -> {items, …}: GET /api/episodes for that range
    chart: null, // what was drawn last (chartData)
    lastTs: null, // ISO ts of the newest point, for ?since=
    synced: false,
    syncedAt: 0,
    syncing: false,
    drawnAt: 0,
    dirty: true,
    cursorT: null,
    alertNodes: new Map(), // rows drawn from /api/rooms, by key
    incident: null, // the room's one box for the hub's alerts (alerts.js)
  };
  card.dataset.room = name;
  view.nodes.name.textContent = displayName(name);
  view.nodes.name.title = name;
  attachCursor(view);
  attachRangeSwitch(view);
  return view;
}

function readingAgeSeconds(view) {
  const latest = view.data.latest;
  if (!latest) return null;
  const received = Date.parse(latest.received_at);
  return (view.hubNowAtFetch - received) / 1000 + elapsedSince(view.fetchedAt);
}

function seenAgoSeconds(view) {
  const since = view.data.seconds_since_seen;
  return since === null ? null : since + elapsedSince(view.fetchedAt);
}

// The rows /api/rooms itself calls for: a silent sensor, an offline monitor, a fault.
function alertsFor(view) {
  const room = view.data;
  const alerts = [];
  if (room.stale) {
    const age = readingAgeSeconds(view);
    alerts.push({
      key: "stale",
      level: "danger",
      text:
        age === null
          ? "No reading received yet — room temperature unknown"
          : `No reading for ${fmtDuration(age)} — room temperature unknown`,
    });
  }
  if (room.status === "offline") {
    const since = room.status_since ? ` since ${fmtClock(Date.parse(room.status_since))}` : "";
    alerts.push({ key: "offline", level: "danger", text: `Monitor offline${since}` });
  }
  if (room.fault) {
    alerts.push({ key: "fault", level: "warn", text: `Sensor fault: ${room.fault.error}` });
  }
  return alerts;
}

function bandText() {
  const trim = { trim: true };
  return `${fmtTemp(page.band.lo, trim)}–${fmtTemp(page.band.hi, trim)} ${unitLabel()}`;
}

// The label beside the big number: where the reading sits against the comfortable band,
// or, while the hub has a temperature alert open for the room, what that alert says.
function roomLabel(room) {
  const alert = unresolvedAlerts(room.room).find((a) => a.condition in TEMPERATURE_STATES);
  if (alert) {
    const said = TEMPERATURE_STATES[alert.condition];
    const limit =
      said.side && alert.threshold !== null
        ? ` · ${said.side} ${fmtTemp(alert.threshold, { trim: true, label: true })}`
        : "";
    return { where: alert.severity === "alert" ? "alert" : "warn", text: `${said.word}${limit}` };
  }
  const t = room.latest.temperature_c;
  const band = page.band;
  const where = t < band.lo ? "Below" : t > band.hi ? "Above" : "Within";
  return { where: where.toLowerCase(), text: `${where} ${bandText()}` };
}

// Under the chart: what the shaded band is, and whose guidance it follows.
function captionText() {
  const range = bandText();
  if (page.bandFrom === "uk") {
    return `Shaded: ${range}, the room temperature UK guidance (NHS, The Lullaby Trust) suggests for a sleeping baby.`;
  }
  if (page.bandFrom === "who") {
    return `Shaded: ${range}, from the WHO preset (at least ${fmtTemp(page.band.lo, { trim: true, label: true })} indoors).`;
  }
  if (page.bandFrom === "us") return `Shaded: ${range}, the range often given in the US for a baby's room.`;
  return `Shaded: ${range}, between the cold and warm thresholds chosen on the Settings page.`;
}

/** Everything on the card that changes with the clock or the data; runs every second. */
export function renderRoom(view) {
  const room = view.data;
  const n = view.nodes;
  const state = roomState(view);
  view.card.dataset.state = state;
  view.card.dataset.stale = String(room.stale);
  view.card.dataset.status = room.status;

  n.badge.dataset.status = room.status;
  setText(
    n.badgeText,
    room.status === "online" ? "Online" : room.status === "offline" ? "Offline" : "Status unknown"
  );

  renderAlerts(view, alertsFor(view));

  const latest = room.latest;
  setText(n.tempUnit, unitLabel());
  n.temp.classList.toggle("is-stale", room.stale);
  n.tempLabel.hidden = !(room.stale && latest);
  if (latest) {
    setText(n.tempLabel, `Last known · ${fmtClock(Date.parse(latest.ts))}`);
    setText(n.tempValue, fmtTemp(latest.temperature_c));
    setText(n.humidityValue, fmtHumidity(latest.humidity_pct));
  } else {
    setText(n.tempValue, "–");
    setText(n.humidityValue, "–");
  }
  n.humidityValue.parentElement.classList.toggle("is-stale", room.stale);

  if (latest && !room.stale) {
    const label = roomLabel(room);
    n.range.hidden = false;
    n.range.dataset.where = label.where;
    setText(n.range, label.text);
  } else {
    n.range.hidden = true;
  }

  setText(n.caption, captionText());

  // A room fed by another system's sensor (hub.sources): which one, how often, how exact.
  n.source.hidden = !room.source;
  if (room.source) setText(n.source, `${room.source}. ${room.reporting} ${room.accuracy}`);

  const seen = seenAgoSeconds(view);
  setText(
    n.seen,
    seen === null ? "Not heard from yet" : `Last heard from ${fmtDuration(seen)} ago`
  );
}
