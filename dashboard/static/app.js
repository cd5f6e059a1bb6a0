// The nursery dashboard: polls the hub's JSON API and shows each room.
//
// Safety first: a room only looks calm while fresh readings arrive. A silent sensor,
// an offline monitor, a sensor fault or an unreachable hub each say so in words.
// All text from the API goes in through textContent; nothing is parsed as HTML.
"use strict";

(() => {
  const POLL_MS = 3000;
  const FETCH_TIMEOUT_MS = 10000;
  const SPAN_MS = 24 * 3600 * 1000;
  const RESYNC_MS = 10 * 60 * 1000; // refetch the whole day now and then (late, replayed readings)
  const REDRAW_MS = 30 * 1000; // slide the time axis even when no reading arrives
  const MAX_POINTS = 1000;
  const SETTINGS_REFRESH_MS = 60 * 1000; // °C/°F and the thresholds, changed on /settings
  const SETTINGS_WAIT_MS = 3000; // at most this long before the first draw, in °C if need be
  const MIN_GAP_MS = 5 * 60 * 1000; // a silence longer than this breaks the line
  const SVG_NS = "http://www.w3.org/2000/svg";
  // The chart's range switch. A week and a year come from the hub's hourly rollups and are
  // fetched again when this old; the day is kept live reading by reading.
  const RANGES = {
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
  const LONG_RETRY_MS = 15 * 1000; // after a failed fetch
  const EPISODES_REFRESH_MS = 60 * 1000;
  const EPISODES_ABSENT_MS = 10 * 60 * 1000; // no episode log on this hub (404) or no access (401)

  // The hub's alerts (GET /api/alerts), in words a tired parent reads at a glance: the
  // hub's own labels (hub/messages.py, from GET /api/settings), the same as its pushes.
  let ALERT_LABELS = {};
  const SEVERITY_RANK = { alert: 3, warning: 2, advisory: 1 };
  // The last tie-break: without readings nothing else can be known, so that comes first.
  const CONDITION_ORDER = ["no_data", "offline", "cold", "hot", "fast_drop", "sensor_suspect"];
  // Alerts about the room's temperature: while one is open, the label beside the big
  // number says what it says (never a green "Within 16–20 °C" beside "falling fast").
  const TEMPERATURE_STATES = {
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

  const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const dayClockFmt = new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    hour: "numeric",
    minute: "2-digit",
  });

  const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
  const weekHourFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "numeric" });
  const monthFmt = new Intl.DateTimeFormat(undefined, { month: "short" });
  const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

  const page = {
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", // days of the 1 y chart
    episodesAbsentUntil: 0, // performance.now() before which /api/episodes is not asked again
    alertsKey: "",
    reachable: null, // null until the first answer, then true/false
    lastOkAt: null, // performance.now() of the last good /api/rooms answer
    serverOffsetMs: 0, // hub clock minus browser clock
    rooms: new Map(), // room name -> view
    timer: null,
    polling: false,
    alerts: [], // GET /api/alerts: open ones and those of the last 24 h, newest first
    alertsLoaded: false,
    answered: new Map(), // alert id -> {alert, at}: a POST's answer, newer than a poll in flight
    sending: new Set(), // alert ids with an ack or snooze on its way
    answerErrors: new Map(), // room name -> what went wrong with the last press
    recentKey: "",
    // GET /api/settings: temperatures arrive in °C and are shown in `unit`; the chart
    // shades the comfortable band between the cold and warm thresholds.
    unit: "C",
    band: { lo: 16, hi: 20 },
    bandFrom: "uk", // the preset the band comes from, or "" when a threshold was changed
    settingsKey: "",
    settingsAt: -Infinity,
  };

  // --- small helpers ------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function serverNow() {
    return Date.now() + page.serverOffsetMs;
  }

  function displayName(room) {
    const words = room.replace(/[-_]+/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** A temperature in °C in the unit the household chose. */
  function toUnit(celsius) {
    return page.unit === "F" ? (celsius * 9) / 5 + 32 : celsius;
  }

  function unitLabel() {
    return page.unit === "F" ? "°F" : "°C";
  }

  function fmtTemp(celsius) {
    return toUnit(celsius).toFixed(1);
  }

  /** A limit: "16", "60.8", without a trailing ".0". */
  function fmtLimit(celsius) {
    return String(Math.round(toUnit(celsius) * 10) / 10);
  }

  function fmtHumidity(value) {
    return String(Math.round(value));
  }

  function fmtDuration(seconds) {
    const s = Math.max(1, Math.floor(seconds));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
    return `${Math.floor(h / 24)} days`;
  }

  function fmtClock(ms) {
    const age = serverNow() - ms;
    const text = (age > 20 * 3600 * 1000 ? dayClockFmt : clockFmt).format(new Date(ms));
    return text.replace(/\s/g, "\u00a0"); // "7:46 PM" never splits over two lines
  }

  function elapsedSince(perfMs) {
    return (performance.now() - perfMs) / 1000;
  }

  // --- one room's card ------------------------------------------------------------

  function createView(name) {
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
      incident: null, // the room's one box for the hub's alerts (createIncident)
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

  // --- the hub's alerts ------------------------------------------------------------

  // The room's alerts not yet resolved, most urgent first: unanswered before answered,
  // then by severity, then the newest (as Home Assistant's alert entity orders them).
  function unresolvedAlerts(roomName) {
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

  function alertLabel(alert) {
    if (alert.condition === "humidity" && alert.value !== null && alert.threshold !== null) {
      const label = ALERT_LABELS[alert.value <= alert.threshold ? "humidity_low" : "humidity_high"];
      if (label) return label;
    }
    return ALERT_LABELS[alert.condition] || displayName(alert.condition);
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

  // What the summary line and the card's edge say about one room, most urgent first.
  function roomTroubles(view) {
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

  function roomState(view) {
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

  // The card's rows: the one box for the hub's alerts (with its buttons) and what
  // /api/rooms says that no hub alert already says.
  function renderAlerts(view, locals) {
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

  // The label beside the big number: where the reading sits against the comfortable band,
  // or, while the hub has a temperature alert open for the room, what that alert says.
  function roomLabel(room) {
    const alert = unresolvedAlerts(room.room).find((a) => a.condition in TEMPERATURE_STATES);
    if (alert) {
      const said = TEMPERATURE_STATES[alert.condition];
      const limit =
        said.side && alert.threshold !== null ? ` · ${said.side} ${fmtLimit(alert.threshold)} ${unitLabel()}` : "";
      return { where: alert.severity === "alert" ? "alert" : "warn", text: `${said.word}${limit}` };
    }
    const t = room.latest.temperature_c;
    const band = page.band;
    const where = t < band.lo ? "Below" : t > band.hi ? "Above" : "Within";
    return { where: where.toLowerCase(), text: `${where} ${fmtLimit(band.lo)}–${fmtLimit(band.hi)} ${unitLabel()}` };
  }

  // Everything that changes with the clock or the data; runs every second.
  function renderRoom(view) {
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

    const seen = seenAgoSeconds(view);
    setText(
      n.seen,
      seen === null ? "Not heard from yet" : `Last heard from ${fmtDuration(seen)} ago`
    );
  }

  // --- the charts: 24 h, 7 days, 1 year -------------------------------------------

  function medianStep(points) {
    if (points.length < 3) return 0;
    const steps = [];
    for (let i = 1; i < points.length; i++) steps.push(points[i].t - points[i - 1].t);
    steps.sort((a, b) => a - b);
    return steps[Math.floor(steps.length / 2)];
  }

  function localMidnight(t) {
    const d = new Date(t);
    d.setHours(0, 0, 0, 0);
    return d;
  }

  // Grid lines with their labels: clock times for a day, weekdays for a week, months for
  // a year, fewer of them on a narrow phone.
  function timeTicks(range, t0, t1, width) {
    const ticks = [];
    if (range === "7d") {
      const d = localMidnight(t0);
      if (d.getTime() < t0) d.setDate(d.getDate() + 1);
      for (; d.getTime() <= t1; d.setDate(d.getDate() + 1)) {
        ticks.push({ t: d.getTime(), label: weekdayFmt.format(d) });
      }
      return ticks;
    }
    if (range === "1y") {
      const every = width / 12 >= 34 ? 1 : width / 12 >= 20 ? 2 : 3;
      const d = localMidnight(t0);
      d.setDate(1);
      if (d.getTime() < t0) d.setMonth(d.getMonth() + 1);
      for (; d.getTime() <= t1; d.setMonth(d.getMonth() + 1)) {
        ticks.push({ t: d.getTime(), label: d.getMonth() % every === 0 ? monthFmt.format(d) : "" });
      }
      return ticks;
    }
    const choices = [15, 30, 60, 120, 180, 240, 360].map((m) => m * 60 * 1000);
    const most = Math.max(2, Math.floor(width / 70));
    const step = choices.find((c) => (t1 - t0) / c <= most) || choices[choices.length - 1];
    const stepMin = step / 60000;
    const start = new Date(t0);
    start.setSeconds(0, 0);
    start.setMinutes(Math.ceil(start.getMinutes() / 15) * 15);
    for (let t = start.getTime(); t <= t1; t += 15 * 60 * 1000) {
      const d = new Date(t);
      if ((d.getHours() * 60 + d.getMinutes()) % stepMin === 0) {
        ticks.push({ t, label: clockFmt.format(d) });
      }
    }
    return ticks;
  }

  function valueScale(values, opts) {
    let lo = opts.include[0];
    let hi = opts.include[1];
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    lo -= opts.pad;
    hi += opts.pad;
    if (hi - lo < opts.minSpan) {
      const mid = (hi + lo) / 2;
      lo = mid - opts.minSpan / 2;
      hi = mid + opts.minSpan / 2;
    }
    const step = opts.steps.find((s) => (hi - lo) / s <= opts.maxTicks) || opts.steps.at(-1);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
    if (opts.clamp) {
      lo = Math.max(opts.clamp[0], lo);
      hi = Math.min(opts.clamp[1], hi);
    }
    const ticks = [];
    for (let v = lo; v <= hi + 1e-9; v += step) ticks.push(Number(v.toFixed(6)));
    return { lo, hi, ticks };
  }

  // Runs of points without a silence longer than the gap between them.
  function runsOf(points) {
    const gap = Math.max(MIN_GAP_MS, 3 * medianStep(points));
    const runs = [];
    let run = [];
    points.forEach((p, i) => {
      if (i > 0 && p.t - points[i - 1].t > gap) {
        runs.push(run);
        run = [];
      }
      run.push(p);
    });
    if (run.length) runs.push(run);
    return runs;
  }

  // Alerts as shaded periods, episodes as markers: only on the temperature chart.
  function drawMarks(root, chart, box) {
    const { x, t0, t1 } = box;
    const spans = svg("g", { class: "alert-spans" });
    let alerts = 0;
    for (const alert of chart.alerts) {
      const from = Date.parse(alert.opened_at);
      const to = alert.resolved_at ? Date.parse(alert.resolved_at) : t1;
      if (to < t0 || from > t1) continue;
      const x0 = x(Math.max(from, t0));
      const x1 = x(Math.min(to, t1));
      const width = Math.max(2, x1 - x0);
      const attrs = { "data-severity": alert.severity, "data-condition": alert.condition };
      spans.append(
        svg("rect", { class: "alert-span", x: x0, y: box.top, width, height: box.height, ...attrs }),
        svg("rect", { class: "alert-strip", x: x0, y: box.top + box.height - 4, width, height: 4, ...attrs })
      );
      alerts += 1;
    }
    root.append(spans);

    const marks = svg("g", { class: "episode-marks" });
    let episodes = 0;
    for (const episode of chart.episodes) {
      const from = Date.parse(episode.started_at);
      if (!(from >= t0 && from <= t1)) continue;
      const to = episode.ended_at ? Math.min(Date.parse(episode.ended_at), t1) : episode.running ? t1 : from;
      const x0 = x(from);
      const mark = svg("g", { class: "episode-mark", "data-id": episode.id });
      const title = svg("title");
      title.textContent = `Episode logged ${fmtWhen(chart.range, from)}`;
      mark.append(
        title,
        svg("line", { class: "episode-line", x1: x0, x2: x0, y1: box.top + 7, y2: box.top + box.height }),
        svg("rect", { class: "episode-bar", x: x0, y: box.top, width: Math.max(1, x(to) - x0), height: 3 }),
        svg("path", {
          class: "episode-pin",
          d: `M${(x0 - 5).toFixed(1)} ${box.top}h10l-5 7z`,
        })
      );
      marks.append(mark);
      episodes += 1;
    }
    return { marks, alerts, episodes };
  }

  function drawPlot(container, chart, spec) {
    const width = Math.max(200, Math.round(container.clientWidth || 320));
    const height = spec.height;
    const m = { left: 30, right: 9, top: 6, bottom: spec.timeLabels ? 22 : 6 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const { t0, t1, points } = chart;
    const values = [];
    for (const p of points) values.push(spec.lo(p), spec.hi(p));
    const scale = valueScale(values.length ? values : spec.empty, spec.scale);
    const x = (t) => m.left + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => m.top + (1 - (v - scale.lo) / (scale.hi - scale.lo)) * plotH;

    const root = svg("svg", {
      class: `plot-svg ${spec.className}`,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": spec.label(points, chart),
    });
    root.dataset.points = String(points.length);
    root.dataset.range = chart.range;
    root.dataset.source = chart.source;

    if (spec.band) {
      const top = y(Math.min(spec.band.hi, scale.hi));
      const bottom = y(Math.max(spec.band.lo, scale.lo));
      root.append(
        svg("rect", {
          class: "band",
          x: m.left,
          y: top,
          width: plotW,
          height: Math.max(0, bottom - top),
        })
      );
    }

    let marks = null;
    if (spec.marks) {
      marks = drawMarks(root, chart, { x, t0, t1, top: m.top, height: plotH });
      root.dataset.alerts = String(marks.alerts);
      root.dataset.episodes = String(marks.episodes);
    }

    const grid = svg("g", { class: "grid" });
    for (const v of scale.ticks) {
      grid.append(svg("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
      const label = svg("text", { x: m.left - 6, y: y(v), class: "ylabel" });
      label.textContent = spec.tickLabel(v);
      grid.append(label);
    }
    for (const tick of chart.ticks) {
      const tx = x(tick.t);
      grid.append(svg("line", { class: "vgrid", x1: tx, x2: tx, y1: m.top, y2: m.top + plotH }));
      if (spec.timeLabels && tick.label) {
        const half = tick.label.length * 3.2; // about half the label's width at 11px
        const at = Math.min(width - half, Math.max(m.left + half, tx));
        const label = svg("text", { x: at, y: height - 5, class: "xlabel" });
        label.textContent = tick.label;
        grid.append(label);
      }
    }
    root.append(grid);

    // Lowest to highest around the mean, where a point stands for several readings; one
    // path per run of points, and a silence longer than the gap leaves a hole.
    const runs = runsOf(points);
    let spread = "";
    for (const run of runs) {
      if (!run.some((p) => spec.hi(p) > spec.lo(p))) continue;
      const top = run.map((p) => `${x(p.t).toFixed(1)} ${y(spec.hi(p)).toFixed(1)}`);
      const bottom = run.map((p) => `${x(p.t).toFixed(1)} ${y(spec.lo(p)).toFixed(1)}`).reverse();
      spread += `M${top.join("L")}L${bottom.join("L")}Z`;
    }
    if (spread) root.append(svg("path", { class: "spread", d: spread }));
    root.dataset.spread = String(Boolean(spread));

    let d = "";
    const lonely = [];
    for (const run of runs) {
      run.forEach((p, i) => {
        const px = x(p.t).toFixed(1);
        const py = y(spec.value(p)).toFixed(1);
        d += `${i ? "L" : "M"}${px} ${py}`;
        if (run.length === 1) lonely.push([px, py]);
      });
    }
    if (d) root.append(svg("path", { class: "line", d }));
    for (const [cx, cy] of lonely) root.append(svg("circle", { class: "lonely", cx, cy, r: 2 }));
    const last = points.at(-1);
    if (last) {
      root.append(svg("circle", { class: "last", cx: x(last.t), cy: y(spec.value(last)), r: 4 }));
    } else {
      const note = svg("text", { class: "nodata", x: m.left + plotW / 2, y: m.top + plotH / 2 });
      note.textContent = chart.ready ? RANGES[chart.range].empty : "Loading…";
      root.append(note);
    }
    if (marks) root.append(marks.marks);

    const cursor = svg("line", { class: "cursor", y1: m.top, y2: m.top + plotH, visibility: "hidden" });
    const dot = svg("circle", { class: "cursor-dot", r: 4, visibility: "hidden" });
    root.append(cursor, dot);
    root.chart = { x, y, t0, t1, left: m.left, plotW, cursor, dot, value: spec.value };

    container.replaceChildren(root);
    return { spread: Boolean(spread), alerts: marks ? marks.alerts : 0, episodes: marks ? marks.episodes : 0 };
  }

  // The temperature chart in the household's unit: the points stay in °C, the spec
  // converts what it draws.
  function tempSpec() {
    const f = page.unit === "F" ? 9 / 5 : 1;
    const band = { lo: toUnit(page.band.lo), hi: toUnit(page.band.hi) };
    return {
      className: "plot-temp-svg",
      height: 150,
      timeLabels: true,
      band,
      marks: true,
      value: (p) => toUnit(p.temp),
      lo: (p) => toUnit(p.tMin),
      hi: (p) => toUnit(p.tMax),
      empty: [band.lo, band.hi],
      scale: { include: [band.lo, band.hi], pad: 0.4 * f, minSpan: 4 * f, steps: [1, 2, 5], maxTicks: 4 },
      tickLabel: (v) => `${v}°`,
      label: (points, chart) =>
        points.length
          ? `Temperature chart, ${RANGES[chart.range].label}, ${points.length} points, latest ${fmtTemp(points.at(-1).temp)} ${unitLabel()}`
          : "Temperature chart, no readings yet",
    };
  }

  // Under the chart: what the shaded band is, and whose guidance it follows.
  function captionText() {
    const range = `${fmtLimit(page.band.lo)}–${fmtLimit(page.band.hi)} ${unitLabel()}`;
    if (page.bandFrom === "uk") {
      return `Shaded: ${range}, the room temperature UK guidance (NHS, The Lullaby Trust) suggests for a sleeping baby.`;
    }
    if (page.bandFrom === "who") {
      return `Shaded: ${range}, from the WHO preset (at least ${fmtLimit(page.band.lo)} ${unitLabel()} indoors).`;
    }
    if (page.bandFrom === "us") return `Shaded: ${range}, the range often given in the US for a baby's room.`;
    return `Shaded: ${range}, between the cold and warm thresholds chosen on the Settings page.`;
  }

  const HUMIDITY_SPEC = {
    className: "plot-humidity-svg",
    height: 64,
    timeLabels: false,
    band: null,
    marks: false,
    value: (p) => p.hum,
    lo: (p) => p.hMin,
    hi: (p) => p.hMax,
    empty: [40, 60],
    scale: {
      include: [Infinity, -Infinity],
      pad: 2,
      minSpan: 20,
      steps: [10, 20, 25, 50],
      maxTicks: 2,
      clamp: [0, 100],
    },
    tickLabel: (v) => `${v}%`,
    label: (points) =>
      points.length
        ? `Humidity chart, latest ${fmtHumidity(points.at(-1).hum)} %`
        : "Humidity chart, no readings yet",
  };

  // What the chart shows now: the live day, or a week or year from the rollups.
  function chartData(view) {
    const range = view.range;
    const episodes = (view.episodes[range] && view.episodes[range].items) || [];
    if (range === "24h") {
      const t1 = Math.max(serverNow(), view.points.length ? view.points.at(-1).t : 0);
      const first = view.points.length ? view.points[0].t : t1;
      // Show the whole day once there is a day of data; until then, what there is.
      const t0 = Math.max(t1 - SPAN_MS, Math.min(first, t1 - 30 * 60 * 1000));
      const alerts = page.alerts.filter((a) => a.room === view.name);
      return { range, t0, t1, points: view.points, ready: view.synced, source: view.source, alerts, episodes };
    }
    const state = view.long[range];
    const t1 = Math.max(serverNow(), state && state.loaded ? state.until : 0);
    const t0 = state && state.loaded ? state.since : t1 - RANGES[range].spanMs;
    return {
      range,
      t0,
      t1,
      points: state ? state.points : [],
      ready: Boolean(state && state.loaded),
      source: state && state.loaded ? state.source : "",
      alerts: state ? state.alerts : [],
      episodes,
    };
  }

  function drawCharts(view) {
    const chart = chartData(view);
    const width = view.nodes.plotTemp.clientWidth || 320;
    chart.ticks = timeTicks(chart.range, chart.t0, chart.t1, width - 36);
    view.chart = chart;
    const drawn = drawPlot(view.nodes.plotTemp, chart, tempSpec());
    const humidity = drawPlot(view.nodes.plotHumidity, chart, HUMIDITY_SPEC);
    const n = view.nodes;
    n.keySpread.hidden = !(drawn.spread || humidity.spread);
    n.keyAlert.hidden = !drawn.alerts;
    n.keyEpisode.hidden = !drawn.episodes;
    n.legend.hidden = n.keySpread.hidden && n.keyAlert.hidden && n.keyEpisode.hidden;
    let span = RANGES[chart.range].label;
    if (chart.range === "24h" && (chart.t1 - chart.t0) / 3600000 <= 23.5) {
      span = `since ${clockFmt.format(new Date(chart.t0))}`;
    }
    setText(n.chartSpan, span);
    for (const button of n.rangeButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.range === chart.range));
    }
    view.drawnAt = performance.now();
    view.dirty = false;
    showCursor(view);
  }

  function setRange(view, range) {
    if (!RANGES[range] || view.range === range) return;
    view.range = range;
    view.cursorT = null;
    drawCharts(view);
    if (range !== "24h") syncLong(view);
    syncEpisodes(view);
  }

  function attachRangeSwitch(view) {
    for (const button of view.nodes.rangeButtons) {
      button.addEventListener("click", () => setRange(view, button.dataset.range));
    }
  }

  // Touch or hover on a chart to read a past value.
  function attachCursor(view) {
    const figure = view.nodes.chart;
    const move = (event) => {
      const plot = event.target.closest(".plot");
      const root = plot && plot.querySelector("svg");
      if (!root || !root.chart) return;
      const box = root.getBoundingClientRect();
      const c = root.chart;
      const frac = (event.clientX - box.left - c.left) / c.plotW;
      view.cursorT = c.t0 + Math.min(1, Math.max(0, frac)) * (c.t1 - c.t0);
      showCursor(view);
    };
    figure.addEventListener("pointerdown", move);
    figure.addEventListener("pointermove", move);
    figure.addEventListener("pointerleave", (event) => {
      if (event.pointerType === "mouse") {
        view.cursorT = null;
        showCursor(view);
      }
    });
  }

  function nearest(points, t) {
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid].t < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && t - points[lo - 1].t < points[lo].t - t) lo -= 1;
    return points[lo];
  }

  function fmtWhen(range, ms) {
    if (range === "1y") return dateFmt.format(new Date(ms));
    if (range === "7d") return weekHourFmt.format(new Date(ms));
    return fmtClock(ms);
  }

  // "Tue 3 PM · 19.1 °C (18.4–19.9) · 52 % humidity" (or °F): the range only where a point stands
  // for several readings.
  function readoutText(range, p) {
    const spread = p.tMax > p.tMin ? ` (${fmtTemp(p.tMin)}–${fmtTemp(p.tMax)})` : "";
    const when = fmtWhen(range, p.bucketMs ? p.start : p.t);
    return `${when} · ${fmtTemp(p.temp)} ${unitLabel()}${spread} · ${fmtHumidity(p.hum)} % humidity`;
  }

  function showCursor(view) {
    const points = view.chart ? view.chart.points : [];
    const p = view.cursorT === null || !points.length ? null : nearest(points, view.cursorT);
    for (const plot of [view.nodes.plotTemp, view.nodes.plotHumidity]) {
      const root = plot.querySelector("svg");
      if (!root || !root.chart) continue;
      const c = root.chart;
      const visible = p && p.t >= c.t0 ? "visible" : "hidden";
      c.cursor.setAttribute("visibility", visible);
      c.dot.setAttribute("visibility", visible);
      if (p) {
        c.cursor.setAttribute("x1", c.x(p.t));
        c.cursor.setAttribute("x2", c.x(p.t));
        c.dot.setAttribute("cx", c.x(p.t));
        c.dot.setAttribute("cy", c.y(c.value(p)));
      }
    }
    setText(view.nodes.readout, p ? readoutText(view.chart.range, p) : "");
    view.nodes.readout.hidden = !p;
  }

  // --- talking to the hub -------------------------------------------------------

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
    let res = await fetch(historyUrl(view, range), { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (res.status === 422 && range === "1y" && page.timeZone !== "UTC") {
      page.timeZone = "UTC"; // the hub does not know this phone's zone: days in UTC then
      res = await fetch(historyUrl(view, range), { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    }
    if (!res.ok) throw new Error(`history ${range}: HTTP ${res.status}`);
    return res.json();
  }

  // The day: all of it from the history now and then, new readings one by one between.
  async function syncSeries(view) {
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
        const res = await fetch(`/api/rooms/${encodeURIComponent(view.name)}/readings?${params}`, {
          cache: "no-store",
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
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

  // A week or a year, from the rollups: fetched when shown, again when it gets old.
  async function syncLong(view) {
    const range = view.range;
    if (range === "24h") return;
    const state = view.long[range] || (view.long[range] = { loaded: false, loading: false, points: [], alerts: [], at: 0, retryMs: 0 });
    if (state.loading || performance.now() - state.at < state.retryMs) return;
    state.loading = true;
    try {
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
    } catch (err) {
      state.retryMs = LONG_RETRY_MS;
      console.warn("nursery dashboard:", err);
    } finally {
      state.at = performance.now();
      state.loading = false;
    }
    if (view.range === range) drawCharts(view);
  }

  // Episodes from the episode log (GET /api/episodes), one marker each. While the hub has
  // no such endpoint or this login may not read it (404, 401), the chart has no markers.
  async function syncEpisodes(view) {
    const range = view.range;
    const state = view.episodes[range] || (view.episodes[range] = { items: [], loading: false, at: 0, retryMs: 0 });
    if (state.loading || performance.now() - state.at < state.retryMs) return;
    if (performance.now() < page.episodesAbsentUntil) return;
    state.loading = true;
    const until = serverNow();
    const since = until - RANGES[range].spanMs - 24 * 3600 * 1000; // a 1 y chart starts at a midnight
    const params = new URLSearchParams({
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      room: view.name,
    });
    let changed = false;
    try {
      const res = await fetch(`/api/episodes?${params}`, { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
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
    } catch (err) {
      state.retryMs = LONG_RETRY_MS;
      console.warn("nursery dashboard:", err);
    } finally {
      state.at = performance.now();
      state.loading = false;
    }
    if (changed && view.range === range) drawCharts(view);
  }

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

  function renderSummary() {
    const summary = document.getElementById("summary");
    const text = document.getElementById("summary-text");
    const views = [...page.rooms.values()];
    let state;
    let message;
    if (page.reachable === null) {
      state = "loading";
      message = "Connecting to the hub…";
    } else if (!page.reachable) {
      state = "alert";
      message = "Can't reach the hub — readings below may be out of date";
    } else if (!views.length) {
      state = "notice";
      message = "Hub connected · no monitor yet";
    } else {
      const troubled = views
        .map((view) => ({ view, troubles: roomTroubles(view) }))
        .filter((entry) => entry.troubles.length);
      const urgent = (entry) => entry.troubles.some((t) => t.level === "alert");
      if (!troubled.length) {
        state = "ok";
        message = views.length === 1 ? "Monitor reporting" : "All monitors reporting";
      } else if (troubled.length === 1) {
        const [{ view, troubles }] = troubled;
        const top = troubles[0];
        state = top.level;
        const answered =
          top.state === "acknowledged" ? " · acknowledged" : top.state === "snoozed" ? " · snoozed" : "";
        message = `${displayName(view.name)}: ${top.what}${answered}`;
      } else {
        state = troubled.some(urgent) ? "alert" : "warn";
        message = `${troubled.length} rooms need checking`;
      }
    }
    summary.dataset.state = state;
    setText(text, message);
    document.body.classList.toggle("hub-unreachable", page.reachable === false);
    const updated = document.getElementById("updated");
    setText(
      updated,
      page.lastOkAt === null ? "Not updated yet" : `Updated ${fmtDuration(elapsedSince(page.lastOkAt))} ago`
    );
  }

  // The list under the cards: every alert of the last 24 h and what became of it.
  function renderRecent() {
    const section = document.getElementById("recent");
    section.hidden = !page.alertsLoaded;
    if (!page.alertsLoaded) return;
    const key = JSON.stringify(page.alerts) + Math.floor(serverNow() / 60000);
    if (key === page.recentKey) return;
    page.recentKey = key;

    const count = document.getElementById("recent-count");
    setText(count, String(page.alerts.length));
    count.hidden = page.alerts.length === 0;
    document.getElementById("recent-empty").hidden = page.alerts.length > 0;
    const list = document.getElementById("recent-list");
    list.hidden = page.alerts.length === 0;
    list.replaceChildren(
      ...page.alerts.map((alert) => {
        const item = el("li", "recent-item");
        item.dataset.id = String(alert.id);
        item.dataset.condition = alert.condition;
        item.dataset.severity = alert.severity;
        item.dataset.state = alert.state;
        const head = el("p", "recent-head");
        const dot = el("span", "dot");
        dot.setAttribute("aria-hidden", "true");
        head.append(dot, el("span", "recent-label", alertLabel(alert)));
        head.append(el("span", "recent-room", displayName(alert.room)));
        const opened = `Opened ${fmtClock(Date.parse(alert.opened_at))}`;
        let outcome;
        if (alert.state === "resolved" && alert.resolved_at) {
          outcome = `Resolved ${fmtClock(Date.parse(alert.resolved_at))}`;
        } else if (alert.state === "snoozed" && alert.snoozed_until) {
          outcome = `Snoozed until ${fmtClock(Date.parse(alert.snoozed_until))}`;
        } else {
          outcome = "Still open";
        }
        const when = el("p", "recent-when", `${opened} · ${outcome}`);
        item.append(head, when);
        if (alert.acknowledged_at) {
          const at = fmtClock(Date.parse(alert.acknowledged_at));
          item.append(el("p", "recent-who", `Acknowledged by ${alert.acknowledged_by || "someone"} at ${at}`));
        } else if (alert.acknowledged_by) {
          item.append(el("p", "recent-who", `Snoozed by ${alert.acknowledged_by}`));
        }
        return item;
      })
    );
  }

  // Push delivery from /healthz: the page still shows alerts when phones do not get them.
  function applyHealth(health) {
    const banner = document.getElementById("delivery");
    const n = health.notifications;
    const failing = Boolean(n && n.failing);
    banner.hidden = !failing;
    if (!failing) return;
    const error = (n.last_error || "").trim().replace(/\.$/, "");
    const rest = `${error ? `: ${error}` : ""} — retrying. Alerts still show here.`;
    const text = document.getElementById("delivery-text");
    if (text.textContent !== `Phone alerts are failing${rest}`) {
      text.replaceChildren(el("strong", "", "Phone alerts are failing"), rest);
    }
  }

  function applyAlerts(alerts, askedAt) {
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

  function renderAll() {
    for (const view of page.rooms.values()) if (view.data) renderRoom(view);
    renderSummary();
    renderRecent();
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
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(ANSWER),
        cache: "no-store",
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
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
    renderAll();
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
    renderAll();
  }

  function tick() {
    renderAll();
  }

  // `alsoOk`: statuses whose body still answers (503 from /healthz: degraded, same body).
  async function getJson(url, alsoOk = []) {
    const res = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok && !alsoOk.includes(res.status)) throw new Error(`${url}: HTTP ${res.status}`);
    return { res, body: await res.json() };
  }

  // °C/°F and the band from GET /api/settings. A change made on the settings page shows
  // here within a minute, or at once when this page comes back to the front.
  async function loadSettings() {
    page.settingsAt = performance.now();
    try {
      const { body } = await getJson("/api/settings");
      if (body.labels) ALERT_LABELS = body.labels;
      const t = body.thresholds;
      const cold = t.cold_below_c;
      const warm = t.warm_above_c;
      const fromPreset = cold.source === "preset" && warm.source === "preset";
      const next = {
        unit: body.unit === "F" ? "F" : "C",
        band: { lo: cold.value_c, hi: warm.value_c },
        bandFrom: fromPreset ? body.preset : "",
      };
      const key = JSON.stringify(next);
      if (key === page.settingsKey) return;
      page.settingsKey = key;
      Object.assign(page, next);
      document.documentElement.dataset.unit = page.unit;
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
      const [rooms, alerts, health] = await Promise.allSettled([
        getJson("/api/rooms"),
        getJson("/api/alerts"),
        getJson("/healthz", [503]),
      ]);
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
    setInterval(tick, 1000);
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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
