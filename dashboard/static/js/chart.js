// The history chart: one SVG plot of a room's readings over a day, a week or a year, with
// the spread of each point, silences as holes, alerts shaded and episodes marked.

import { svg } from "./dom.js";

const MIN_GAP_MS = 5 * 60 * 1000; // a silence longer than this breaks the line

export const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const monthFmt = new Intl.DateTimeFormat(undefined, { month: "short" });

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

/** Grid lines with their labels: clock times for a day, weekdays for a week, months for
 * a year, fewer of them on a narrow phone. */
export function timeTicks(range, t0, t1, width) {
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
    title.textContent = `Episode logged ${chart.when(from)}`;
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

/**
 * One plot into `container`. `chart` is what to show ({range, t0, t1, points, ticks,
 * alerts, episodes, ready, source, emptyText, when}); `spec` how (its values, band, scale,
 * labels). Says whether it drew a spread and how many alerts and episodes it marked.
 */
export function drawPlot(container, chart, spec) {
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
    note.textContent = chart.ready ? chart.emptyText : "Loading…";
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

/** The point nearest to time `t` (points oldest first, at least one). */
export function nearest(points, t) {
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

/** Moves the cursor line and dot of each plot in `plots` to point `p` (null hides them). */
export function placeCursor(plots, p) {
  for (const plot of plots) {
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
}

/** The time under a pointer event on a plot, or null off the plots. */
export function timeAt(event) {
  const plot = event.target.closest(".plot");
  const root = plot && plot.querySelector("svg");
  if (!root || !root.chart) return null;
  const box = root.getBoundingClientRect();
  const c = root.chart;
  const frac = (event.clientX - box.left - c.left) / c.plotW;
  return c.t0 + Math.min(1, Math.max(0, frac)) * (c.t1 - c.t0);
}
