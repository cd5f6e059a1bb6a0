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
  const BAND = { lo: 16, hi: 20 };
  const MIN_GAP_MS = 5 * 60 * 1000; // a silence longer than this breaks the line
  const SVG_NS = "http://www.w3.org/2000/svg";

  const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const dayClockFmt = new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    hour: "numeric",
    minute: "2-digit",
  });

  const page = {
    reachable: null, // null until the first answer, then true/false
    lastOkAt: null, // performance.now() of the last good /api/rooms answer
    serverOffsetMs: 0, // hub clock minus browser clock
    rooms: new Map(), // room name -> view
    timer: null,
    polling: false,
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

  function fmtTemp(value) {
    return value.toFixed(1);
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
    return (age > 20 * 3600 * 1000 ? dayClockFmt : clockFmt).format(new Date(ms));
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
        humidityValue: q(".humidity-value"),
        range: q(".range"),
        seen: q(".seen"),
        chartSpan: q(".chart-span"),
        plotTemp: q(".plot-temp"),
        plotHumidity: q(".plot-humidity"),
        readout: q(".readout"),
        chart: q(".chart"),
      },
      data: null, // the room as /api/rooms last described it
      fetchedAt: 0, // performance.now() when data arrived
      hubNowAtFetch: 0, // the hub's clock at that moment (ms since epoch)
      points: [], // [{t, temp, hum}], oldest first
      lastTs: null, // ISO ts of the newest point, for ?since=
      synced: false,
      syncedAt: 0,
      syncing: false,
      drawnAt: 0,
      dirty: true,
      cursorT: null,
      alertNodes: new Map(),
    };
    card.dataset.room = name;
    view.nodes.name.textContent = displayName(name);
    view.nodes.name.title = name;
    attachCursor(view);
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

  function roomState(room) {
    if (room.stale || room.status === "offline") return "alert";
    if (room.fault) return "warn";
    return room.status === "online" ? "ok" : "notice";
  }

  function renderAlerts(view, alerts) {
    const wanted = new Set(alerts.map((a) => a.key));
    for (const [key, node] of view.alertNodes) {
      if (!wanted.has(key)) {
        node.remove();
        view.alertNodes.delete(key);
      }
    }
    alerts.forEach((alert, index) => {
      let node = view.alertNodes.get(alert.key);
      if (!node) {
        node = el("p", "alert");
        node.dataset.alert = alert.key;
        view.alertNodes.set(alert.key, node);
      }
      node.dataset.level = alert.level;
      setText(node, alert.text);
      if (view.nodes.alerts.children[index] !== node) {
        view.nodes.alerts.insertBefore(node, view.nodes.alerts.children[index] || null);
      }
    });
  }

  // Everything that changes with the clock or the data; runs every second.
  function renderRoom(view) {
    const room = view.data;
    const n = view.nodes;
    const state = roomState(room);
    view.card.dataset.state = state;
    view.card.dataset.stale = String(room.stale);

    n.badge.dataset.status = room.status;
    setText(
      n.badgeText,
      room.status === "online" ? "Online" : room.status === "offline" ? "Offline" : "Status unknown"
    );

    renderAlerts(view, alertsFor(view));

    const latest = room.latest;
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
      const t = latest.temperature_c;
      const where = t < BAND.lo ? "Below" : t > BAND.hi ? "Above" : "Within";
      n.range.hidden = false;
      n.range.dataset.where = where.toLowerCase();
      setText(n.range, `${where} ${BAND.lo}–${BAND.hi} °C`);
    } else {
      n.range.hidden = true;
    }

    const seen = seenAgoSeconds(view);
    setText(
      n.seen,
      seen === null ? "Not heard from yet" : `Last heard from ${fmtDuration(seen)} ago`
    );
  }

  // --- the 24 h chart -----------------------------------------------------------

  function medianStep(points) {
    if (points.length < 3) return 0;
    const steps = [];
    for (let i = 1; i < points.length; i++) steps.push(points[i].t - points[i - 1].t);
    steps.sort((a, b) => a - b);
    return steps[Math.floor(steps.length / 2)];
  }

  function timeTicks(t0, t1, width) {
    const choices = [15, 30, 60, 120, 180, 240, 360].map((m) => m * 60 * 1000);
    const most = Math.max(2, Math.floor(width / 70));
    const step = choices.find((c) => (t1 - t0) / c <= most) || choices[choices.length - 1];
    const stepMin = step / 60000;
    const ticks = [];
    const start = new Date(t0);
    start.setSeconds(0, 0);
    start.setMinutes(Math.ceil(start.getMinutes() / 15) * 15);
    for (let t = start.getTime(); t <= t1; t += 15 * 60 * 1000) {
      const d = new Date(t);
      if ((d.getHours() * 60 + d.getMinutes()) % stepMin === 0) ticks.push(t);
    }
    return ticks;
  }

  function valueScale(values, opts) {
    let lo = Math.min(...values, opts.include[0]);
    let hi = Math.max(...values, opts.include[1]);
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

  function drawPlot(container, view, spec) {
    const width = Math.max(200, Math.round(container.clientWidth || 320));
    const height = spec.height;
    const m = { left: 30, right: 9, top: 6, bottom: spec.timeLabels ? 22 : 6 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const [t0, t1] = view.domain;
    const points = view.points;
    const values = points.map(spec.value);
    const scale = valueScale(values.length ? values : spec.empty, spec.scale);
    const x = (t) => m.left + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => m.top + (1 - (v - scale.lo) / (scale.hi - scale.lo)) * plotH;

    const root = svg("svg", {
      class: `plot-svg ${spec.className}`,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": spec.label(points),
    });
    root.dataset.points = String(points.length);

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

    const grid = svg("g", { class: "grid" });
    for (const v of scale.ticks) {
      grid.append(svg("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
      const label = svg("text", { x: m.left - 6, y: y(v), class: "ylabel" });
      label.textContent = spec.tickLabel(v);
      grid.append(label);
    }
    for (const t of view.timeTicks) {
      grid.append(svg("line", { class: "vgrid", x1: x(t), x2: x(t), y1: m.top, y2: m.top + plotH }));
      if (spec.timeLabels) {
        const text = clockFmt.format(new Date(t));
        const half = text.length * 3.2; // about half the label's width at 11px
        const at = Math.min(width - half, Math.max(m.left + half, x(t)));
        const label = svg("text", { x: at, y: height - 5, class: "xlabel" });
        label.textContent = text;
        grid.append(label);
      }
    }
    root.append(grid);

    // One path per run of readings; a silence longer than the gap leaves a hole.
    const gap = Math.max(MIN_GAP_MS, 3 * medianStep(points));
    let d = "";
    const lonely = [];
    points.forEach((p, i) => {
      const joined = i > 0 && p.t - points[i - 1].t <= gap;
      const alone = !joined && !(i + 1 < points.length && points[i + 1].t - p.t <= gap);
      const px = x(p.t).toFixed(1);
      const py = y(spec.value(p)).toFixed(1);
      d += `${joined ? "L" : "M"}${px} ${py}`;
      if (alone) lonely.push([px, py]);
    });
    if (d) root.append(svg("path", { class: "line", d }));
    for (const [cx, cy] of lonely) root.append(svg("circle", { class: "lonely", cx, cy, r: 2 }));
    const last = points.at(-1);
    if (last) {
      root.append(svg("circle", { class: "last", cx: x(last.t), cy: y(spec.value(last)), r: 4 }));
    } else {
      const note = svg("text", { class: "nodata", x: m.left + plotW / 2, y: m.top + plotH / 2 });
      note.textContent = view.synced ? "No readings in the last 24 h" : "Loading…";
      root.append(note);
    }

    const cursor = svg("line", { class: "cursor", y1: m.top, y2: m.top + plotH, visibility: "hidden" });
    const dot = svg("circle", { class: "cursor-dot", r: 4, visibility: "hidden" });
    root.append(cursor, dot);
    root.chart = { x, y, t0, t1, left: m.left, plotW, cursor, dot, value: spec.value };

    container.replaceChildren(root);
  }

  const TEMP_SPEC = {
    className: "plot-temp-svg",
    height: 150,
    timeLabels: true,
    band: BAND,
    value: (p) => p.temp,
    empty: [BAND.lo, BAND.hi],
    scale: { include: [BAND.lo, BAND.hi], pad: 0.4, minSpan: 4, steps: [1, 2, 5], maxTicks: 4 },
    tickLabel: (v) => `${v}°`,
    label: (points) =>
      points.length
        ? `Temperature chart, ${points.length} readings, latest ${fmtTemp(points.at(-1).temp)} °C`
        : "Temperature chart, no readings yet",
  };

  const HUMIDITY_SPEC = {
    className: "plot-humidity-svg",
    height: 64,
    timeLabels: false,
    band: null,
    value: (p) => p.hum,
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

  function drawCharts(view) {
    const t1 = Math.max(serverNow(), view.points.length ? view.points.at(-1).t : 0);
    const first = view.points.length ? view.points[0].t : t1;
    // Show the whole day once there is a day of data; until then, what there is.
    const t0 = Math.max(t1 - SPAN_MS, Math.min(first, t1 - 30 * 60 * 1000));
    view.domain = [t0, t1];
    const width = view.nodes.plotTemp.clientWidth || 320;
    view.timeTicks = timeTicks(t0, t1, width - 36);
    drawPlot(view.nodes.plotTemp, view, TEMP_SPEC);
    drawPlot(view.nodes.plotHumidity, view, HUMIDITY_SPEC);
    const hours = (t1 - t0) / 3600000;
    setText(
      view.nodes.chartSpan,
      hours > 23.5 ? "last 24 h" : `since ${clockFmt.format(new Date(t0))}`
    );
    view.drawnAt = performance.now();
    view.dirty = false;
    showCursor(view);
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

  function showCursor(view) {
    const p = view.cursorT === null || !view.points.length ? null : nearest(view.points, view.cursorT);
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
    setText(
      view.nodes.readout,
      p ? `${fmtClock(p.t)} · ${fmtTemp(p.temp)} °C · ${fmtHumidity(p.hum)} % humidity` : ""
    );
    view.nodes.readout.hidden = !p;
  }

  // --- talking to the hub -------------------------------------------------------

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
      const params = new URLSearchParams({ max_points: String(MAX_POINTS) });
      if (!full && view.lastTs) params.set("since", view.lastTs);
      const res = await fetch(
        `/api/rooms/${encodeURIComponent(view.name)}/readings?${params}`,
        { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }
      );
      if (!res.ok) throw new Error(`readings: HTTP ${res.status}`);
      const body = await res.json();
      const fresh = body.points.map((p) => ({
        t: Date.parse(p.ts),
        ts: p.ts,
        temp: p.temperature_c,
        hum: p.humidity_pct,
      }));
      if (full || !view.lastTs) {
        view.points = fresh;
        view.synced = true;
        view.syncedAt = performance.now();
      } else {
        const after = view.points.length ? view.points.at(-1).t : -Infinity;
        for (const p of fresh) if (p.t > after) view.points.push(p);
      }
      const cutoff = serverNow() - SPAN_MS;
      const firstKept = view.points.findIndex((p) => p.t >= cutoff);
      view.points = firstKept < 0 ? [] : view.points.slice(firstKept);
      view.lastTs = view.points.length ? view.points.at(-1).ts : null;
      drawCharts(view);
    } catch (err) {
      console.warn("nursery dashboard:", err); // the next poll tries again
    } finally {
      view.syncing = false;
    }
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
      const troubled = views.filter((v) => roomState(v.data) === "alert" || v.data.fault);
      if (!troubled.length) {
        state = "ok";
        message = views.length === 1 ? "Monitor reporting" : "All monitors reporting";
      } else if (troubled.length === 1) {
        const room = troubled[0].data;
        state = roomState(room) === "alert" ? "alert" : "warn";
        const what = room.stale
          ? "no current reading"
          : room.status === "offline"
            ? "monitor offline"
            : "sensor fault";
        message = `${displayName(room.room)}: ${what}`;
      } else {
        state = troubled.some((v) => roomState(v.data) === "alert") ? "alert" : "warn";
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

  function tick() {
    for (const view of page.rooms.values()) if (view.data) renderRoom(view);
    renderSummary();
  }

  async function poll() {
    if (page.polling) return;
    page.polling = true;
    clearTimeout(page.timer);
    try {
      const res = await fetch("/api/rooms", { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`rooms: HTTP ${res.status}`);
      const rooms = await res.json();
      const hubNow = learnHubClock(res, rooms);
      page.serverOffsetMs = hubNow - Date.now();
      page.reachable = true;
      page.lastOkAt = performance.now();
      applyRooms(rooms, hubNow);
    } catch (err) {
      page.reachable = false;
      console.warn("nursery dashboard:", err);
    } finally {
      page.polling = false;
    }
    renderSummary();
    page.timer = setTimeout(poll, POLL_MS);
  }

  function start() {
    poll();
    setInterval(tick, 1000);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") poll();
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
