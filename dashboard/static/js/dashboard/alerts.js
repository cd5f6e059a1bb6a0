// The hub's alerts on a room's card: one box per room with the most urgent alert in full
// and one "I'm on it" for all of them, in words a tired parent reads at a glance.

import { send } from "../api.js";
import { el, setText } from "../dom.js";
import { fmtDuration, fmtHumidity, fmtTemp, unitLabel } from "../format.js";
import { displayName, fmtClock, hooks, page, serverNow } from "./state.js";

const SEVERITY_RANK = { alert: 3, warning: 2, advisory: 1 };
// The last tie-break: without readings nothing else can be known, so that comes first.
const CONDITION_ORDER = ["no_data", "offline", "cold", "hot", "fast_drop", "sensor_suspect"];
// Alerts about the room's temperature: while one is open, the label beside the big
// number says what it says (never a green "Within 16–20 °C" beside "falling fast").
export const TEMPERATURE_STATES = {
  cold: { word: "Cold", side: "below" },
  cool: { word: "A little cool", side: "below" },
  warm: { word: "A little warm", side: "above" },
  hot: { word: "Hot", side: "above" },
  fast_drop: { word: "Falling fast" },
};
// A hub alert that says the same as a row the page draws from /api/rooms takes that row
// as its heading, so one problem is one box.
const ADOPTS = { no_data: "stale", offline: "offline" };
const ANSWER = { via: "dashboard" }; // who answers is the signed-in caregiver
const NBSP = "\u00a0";
const ACTION_WORDS = { ack: "“I'm on it”", snooze: "the snooze" };

// The room's alerts not yet resolved, most urgent first: unanswered before answered,
// then by severity, then the newest (as Home Assistant's alert entity orders them).
export function unresolvedAlerts(roomName) {
  const first = (a) => {
    const at = CONDITION_ORDER.indexOf(a.condition);
    return at < 0 ? CONDITION_ORDER.length : at;
  };
  const unanswered = (a) => (a.state === "open" ? 1 : 0);
  return page.alerts
    .filter((a) => a.room === roomName && a.state !== "resolved")
    .sort(
      (a, b) =>
        unanswered(b) - unanswered(a) ||
        (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0) ||
        Date.parse(b.opened_at) - Date.parse(a.opened_at) ||
        first(a) - first(b)
    );
}

export function alertLabel(alert) {
  const labels = page.alertLabels;
  if (alert.condition === "humidity" && alert.value !== null && alert.threshold !== null) {
    const label = labels[alert.value <= alert.threshold ? "humidity_low" : "humidity_high"];
    if (label) return label;
  }
  return labels[alert.condition] || displayName(alert.condition);
}

function sinceSeconds(iso) {
  return (serverNow() - Date.parse(iso)) / 1000;
}

// What was measured against what, and for how long: "15.0 °C · below 16.0 °C · for 12 min"
// (or in °F).
// The measurement is the room's latest reading, the one the big number shows: one room,
// one value (the hub judges a filtered value, which may differ by a tenth).
// While the room is silent its measurements are the last known ones, and say so.
function alertDetail(alert, room) {
  const stale = room.stale;
  const latest = room.latest;
  let v = alert.value;
  if (latest && alert.condition in TEMPERATURE_STATES) v = latest.temperature_c;
  if (latest && alert.condition === "humidity") v = latest.humidity_pct;
  const limit = alert.threshold;
  const parts = [];
  const measured = stale ? "last known " : "";
  switch (alert.condition) {
    case "cold":
    case "cool":
    case "warm":
    case "hot": {
      const side = alert.condition === "cold" || alert.condition === "cool" ? "below" : "above";
      if (v !== null) parts.push(`${measured}${fmtTemp(v)} ${unitLabel()}`);
      if (limit !== null) parts.push(`${side} ${fmtTemp(limit)} ${unitLabel()}`);
      break;
    }
    case "fast_drop":
      if (v !== null) parts.push(`${measured || "now "}${fmtTemp(v)} ${unitLabel()}`);
      if (limit !== null) parts.push(`cold below ${fmtTemp(limit)} ${unitLabel()}`);
      break;
    case "humidity":
      if (v !== null) parts.push(`${measured}${fmtHumidity(v)} %RH`);
      if (v !== null && limit !== null) {
        const low = (alert.value ?? v) <= limit; // the side the hub judged
        parts.push(`${low ? "below" : "above"} ${fmtHumidity(limit)} %RH`);
      }
      break;
    case "no_data":
      if (limit !== null) parts.push(`expected every ${fmtDuration(limit)}`);
      break;
    case "sensor_suspect":
      // Fewer failures than the limit: the hub flagged readings frozen in place.
      if (v !== null && limit !== null && v < limit) {
        parts.push("temperature and humidity unchanged");
      } else if (v) {
        parts.push(`${Math.round(v * 100)} % of reads failed`);
        if (limit !== null) parts.push(`limit ${Math.round(limit * 100)} %`);
      }
      break;
    case "clock_skew":
      if (v !== null) parts.push(`${fmtDuration(Math.abs(v))} ${v < 0 ? "behind" : "ahead"}`);
      if (limit !== null) parts.push(`limit ${fmtDuration(limit)}`);
      break;
    default:
      break;
  }
  parts.push(`for ${fmtDuration(sinceSeconds(alert.since))}`);
  return parts.map((part) => part.replace(/ /g, NBSP)).join(" · "); // wrap between parts only
}

function alertStatus(alert) {
  if (alert.state === "acknowledged") {
    const at = alert.acknowledged_at ? ` at ${fmtClock(Date.parse(alert.acknowledged_at))}` : "";
    return `Acknowledged by ${alert.acknowledged_by || "someone"}${at}`;
  }
  if (alert.state === "snoozed" && alert.snoozed_until) {
    return `Snoozed until ${fmtClock(Date.parse(alert.snoozed_until))}`;
  }
  return "";
}

/** What the summary line and the card's edge say about one room, most urgent first. */
export function roomTroubles(view) {
  const room = view.data;
  const troubles = [];
  if (room.stale) troubles.push({ level: "alert", what: "no current reading" });
  if (room.status === "offline") troubles.push({ level: "alert", what: "monitor offline" });
  const incidents = unresolvedAlerts(room.room);
  const fromHub = (severity, level) => {
    for (const alert of incidents) {
      if (alert.severity !== severity) continue;
      if (alert.condition === "no_data" && room.stale) continue;
      if (alert.condition === "offline" && room.status === "offline") continue;
      const what = alertLabel(alert).toLowerCase();
      troubles.push({ level, what, state: alert.state });
    }
  };
  fromHub("alert", "alert");
  if (room.fault) troubles.push({ level: "warn", what: "sensor fault" });
  fromHub("warning", "warn");
  return troubles;
}

export function roomState(view) {
  const troubles = roomTroubles(view);
  if (troubles.some((t) => t.level === "alert")) return "alert";
  if (troubles.length) return "warn";
  return view.data.status === "online" ? "ok" : "notice";
}

// One box per room for the hub's alerts: the most urgent in full (what, how much, the
// push's advice and accuracy), the others as short lines, and one "I'm on it" that
// answers every unanswered alert of the room: one tap at 3 a.m., not one per alert.
function createIncident(view) {
  const root = el("div", "incident");
  root.setAttribute("role", "group");
  const head = el("div", "incident-head");
  const title = el("p", "incident-title");
  head.append(title);
  const detail = el("p", "incident-detail");
  const advice = el("p", "incident-advice");
  const accuracy = el("p", "incident-accuracy");
  const more = el("ul", "incident-more");
  const status = el("p", "incident-status");
  const actions = el("div", "incident-actions");
  const ack = el("button", "btn btn-primary", "I'm on it");
  const snooze = el("button", "btn btn-secondary", "Snooze 30 min");
  for (const button of [ack, snooze]) button.type = "button";
  ack.dataset.action = "ack";
  snooze.dataset.action = "snooze";
  ack.addEventListener("click", () => answerRoom(view.name, "ack"));
  snooze.addEventListener("click", () => answerRoom(view.name, "snooze"));
  actions.append(ack, snooze);
  const error = el("p", "incident-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  root.append(head, detail, advice, accuracy, status, actions, more, error);
  return { root, head, title, detail, advice, accuracy, more, status, actions, ack, snooze, error, lines: new Map() };
}

// "Falling fast · now 15.0 °C · for 4 min · acknowledged": another alert of the room.
function otherLine(alert, room) {
  const parts = [alertLabel(alert), alertDetail(alert, room)];
  if (alert.state === "acknowledged") parts.push("acknowledged");
  if (alert.state === "snoozed" && alert.snoozed_until) {
    parts.push(`snoozed until ${fmtClock(Date.parse(alert.snoozed_until))}`);
  }
  return parts.join(" · ");
}

function updateIncident(view, incident, alerts, adopted) {
  const [lead, ...others] = alerts;
  const room = view.data;
  const root = incident.root;
  root.dataset.id = String(lead.id);
  root.dataset.condition = lead.condition;
  root.dataset.severity = lead.severity;
  root.dataset.state = lead.state;
  root.dataset.count = String(alerts.length);
  const label = alertLabel(lead);
  root.setAttribute("aria-label", label);
  setText(incident.title, label);
  incident.title.hidden = Boolean(adopted);
  setText(incident.detail, alertDetail(lead, room));
  incident.detail.hidden = Boolean(adopted); // the adopted row already says how long
  setText(incident.advice, lead.advice || "");
  incident.advice.hidden = !lead.advice;
  setText(incident.accuracy, lead.accuracy || "");
  incident.accuracy.hidden = !lead.accuracy;

  const ids = new Set(others.map((a) => a.id));
  for (const [id, line] of incident.lines) {
    if (!ids.has(id)) {
      line.remove();
      incident.lines.delete(id);
    }
  }
  others.forEach((alert, index) => {
    let line = incident.lines.get(alert.id);
    if (!line) {
      line = el("li", "incident-other");
      incident.lines.set(alert.id, line);
    }
    line.dataset.id = String(alert.id);
    line.dataset.condition = alert.condition;
    line.dataset.severity = alert.severity;
    line.dataset.state = alert.state;
    setText(line, otherLine(alert, room));
    if (incident.more.children[index] !== line) {
      incident.more.insertBefore(line, incident.more.children[index] || null);
    }
  });
  incident.more.hidden = others.length === 0;

  const sending = alerts.some((a) => page.sending.has(a.id));
  const open = lead.state === "open"; // unanswered ones lead: none open when the lead is not
  incident.actions.hidden = !open;
  incident.ack.disabled = sending;
  incident.snooze.disabled = sending;
  root.classList.toggle("is-sending", sending);
  const status = open ? (sending ? "Sending…" : "") : alertStatus(lead);
  setText(incident.status, status);
  incident.status.hidden = !status;

  const error = page.answerErrors.get(view.name) || "";
  setText(incident.error, error);
  incident.error.hidden = !error;
}

/** The card's rows: the one box for the hub's alerts (with its buttons) and what
 * /api/rooms says (`locals`) that no hub alert already says. */
export function renderAlerts(view, locals) {
  const wanted = new Set(locals.map((a) => a.key));
  for (const [key, node] of view.alertNodes) {
    if (!wanted.has(key)) {
      node.remove();
      view.alertNodes.delete(key);
    }
  }
  const localNodes = new Map();
  for (const local of locals) {
    let node = view.alertNodes.get(local.key);
    if (!node) {
      node = el("p", "alert");
      node.dataset.alert = local.key;
      view.alertNodes.set(local.key, node);
    }
    node.dataset.level = local.level;
    setText(node, local.text);
    localNodes.set(local.key, node);
  }

  const incidents = unresolvedAlerts(view.name);
  const rows = [];
  const said = new Set(); // local rows a hub alert of the room already says
  for (const alert of incidents) if (ADOPTS[alert.condition]) said.add(ADOPTS[alert.condition]);
  if (incidents.length) {
    if (!view.incident) view.incident = createIncident(view);
    const incident = view.incident;
    const key = ADOPTS[incidents[0].condition];
    const adopted = key ? localNodes.get(key) : null;
    for (const node of incident.head.querySelectorAll(".alert")) if (node !== adopted) node.remove();
    if (adopted && adopted.parentNode !== incident.head) incident.head.insertBefore(adopted, incident.title);
    updateIncident(view, incident, incidents, adopted);
    const rank = { alert: 0, warning: 2, advisory: 4 }[incidents[0].severity] ?? 4;
    rows.push({ rank, node: incident.root });
  } else if (view.incident) {
    view.incident.root.remove();
    view.incident = null;
  }
  for (const local of locals) {
    if (said.has(local.key)) continue;
    rows.push({ rank: local.level === "danger" ? 1 : 3, node: localNodes.get(local.key) });
  }
  rows.sort((a, b) => a.rank - b.rank); // stable

  const box = view.nodes.alerts;
  rows.forEach((row, index) => {
    if (box.children[index] !== row.node) box.insertBefore(row.node, box.children[index] || null);
  });
  while (box.children.length > rows.length) box.lastElementChild.remove();
}

/** The alerts of a poll (GET /api/alerts) that left at `askedAt` (performance.now()). */
export function applyAlerts(alerts, askedAt) {
  // A poll that left before a button's answer came back may still show the old state.
  page.alerts = alerts.map((alert) => {
    const answered = page.answered.get(alert.id);
    return answered && answered.at > askedAt ? answered.alert : alert;
  });
  for (const [id, answered] of page.answered) if (answered.at <= askedAt) page.answered.delete(id);
  // A failed press stays said while the room still has an alert nobody answered.
  const waiting = new Set(page.alerts.filter((a) => a.state === "open").map((a) => a.room));
  for (const room of page.answerErrors.keys()) if (!waiting.has(room)) page.answerErrors.delete(room);
  page.alertsLoaded = true;
  // The day's chart shades these alerts: draw it again when they change.
  const key = JSON.stringify(page.alerts.map((a) => [a.id, a.room, a.opened_at, a.resolved_at]));
  if (key !== page.alertsKey) {
    page.alertsKey = key;
    for (const view of page.rooms.values()) view.dirty = true;
  }
}

async function problem(res) {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  } catch (err) {
    // not JSON: the status says enough
  }
  return `HTTP ${res.status}`;
}

// One answer to one alert; the hub's reply is the alert as it now stands.
async function answerAlert(id, action) {
  const url = action === "ack" ? `/api/alerts/${id}/ack` : `/api/alerts/${id}/snooze?minutes=30`;
  let res;
  try {
    res = await send(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ANSWER),
    });
  } catch (err) {
    throw new Error("the hub did not answer");
  }
  if (res.status === 409) return; // resolved meanwhile: nothing left to answer
  if (!res.ok) throw new Error(`the hub said: ${await problem(res)}`);
  const answer = await res.json();
  const index = page.alerts.findIndex((a) => a.id === id);
  const before = index >= 0 ? page.alerts[index] : {};
  // The reply may leave out the advice and accuracy the list carries: keep them.
  const alert = { ...answer, advice: answer.advice ?? before.advice, accuracy: answer.accuracy ?? before.accuracy };
  page.answered.set(id, { alert, at: performance.now() });
  if (index >= 0) page.alerts[index] = alert;
  else page.alerts.unshift(alert);
}

// "I'm on it" and "Snooze 30 min" answer the room: every alert of it nobody answered yet.
async function answerRoom(roomName, action) {
  const ids = unresolvedAlerts(roomName)
    .filter((a) => a.state === "open")
    .map((a) => a.id);
  if (!ids.length || ids.some((id) => page.sending.has(id))) return;
  for (const id of ids) page.sending.add(id);
  page.answerErrors.delete(roomName);
  hooks.renderAll();
  const results = await Promise.allSettled(ids.map((id) => answerAlert(id, action)));
  for (const id of ids) page.sending.delete(id);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    console.warn("nursery dashboard:", failed.reason);
    page.answerErrors.set(
      roomName,
      `Couldn't send ${ACTION_WORDS[action]}: ${failed.reason.message}. Please try again.`
    );
  }
  hooks.renderAll();
}
