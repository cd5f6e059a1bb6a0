// The dashboard's shared state: what the hub said last, the household's comfortable band,
// and the hub's clock, which every "for 12 min" is measured against.

import { clockFmt } from "../chart.js";

export const SPAN_MS = 24 * 3600 * 1000;
// The chart's range switch. A week and a year come from the hub's hourly rollups and are
// fetched again when this old; the day is kept live reading by reading.
export const RANGES = {
  "24h": { spanMs: SPAN_MS, label: "last 24 h", empty: "No readings in the last 24 h" },
  "7d": {
    spanMs: 7 * 24 * 3600 * 1000,
    label: "last 7 days",
    empty: "No readings in the last 7 days",
    refreshMs: 5 * 60 * 1000,
  },
  "1y": {
    spanMs: 365 * 24 * 3600 * 1000,
    label: "last 12 months",
    empty: "No readings in the last year",
    refreshMs: 60 * 60 * 1000,
  },
};

export const page = {
  timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", // days of the 1 y chart
  episodesAbsentUntil: 0, // performance.now() before which /api/episodes is not asked again
  alertsKey: "",
  reachable: null, // null until the first answer, then true/false
  lastOkAt: null, // performance.now() of the last good /api/rooms answer
  serverOffsetMs: 0, // hub clock minus browser clock
  rooms: new Map(), // room name -> view
  timer: null,
  polling: false,
  // The hub's alert labels (hub/messages/, from GET /api/settings), the same as its pushes.
  alertLabels: {},
  roomNames: {}, // the rooms the caregivers named, by room (GET /api/settings)
  alerts: [], // GET /api/alerts: open ones and those of the last 24 h, newest first
  alertsLoaded: false,
  answered: new Map(), // alert id -> {alert, at}: a POST's answer, newer than a poll in flight
  sending: new Set(), // alert ids with an ack or snooze on its way
  answerErrors: new Map(), // room name -> what went wrong with the last press
  recentKey: "",
  // GET /api/settings: the chart shades the comfortable band between the cold and warm
  // thresholds (the unit lives in format.js).
  band: { lo: 16, hi: 20 },
  bandFrom: "uk", // the preset the band comes from, or "" when a threshold was changed
  settingsKey: "",
  settingsAt: -Infinity,
};

/** What the page does after a change of its own (an answered alert): set by app.js. */
export const hooks = { renderAll() {} };

const dayClockFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  hour: "numeric",
  minute: "2-digit",
});

export function serverNow() {
  return Date.now() + page.serverOffsetMs;
}

export function elapsedSince(perfMs) {
  return (performance.now() - perfMs) / 1000;
}

export function displayName(room) {
  const named = page.roomNames[room]; // "Leo's room", as the first run named it
  if (named) return named;
  const words = room.replace(/[-_]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "7:46 PM", or "Tue 7:46 PM" once it is most of a day ago. */
export function fmtClock(ms) {
  const age = serverNow() - ms;
  const text = (age > 20 * 3600 * 1000 ? dayClockFmt : clockFmt).format(new Date(ms));
  return text.replace(/\s/g, "\u00a0"); // "7:46 PM" never splits over two lines
}
